"""CTranslate2's ``model.bin``: read it into numpy arrays, and write one (for tests).

Binary layout, little-endian, as CTranslate2's ``ModelSpec._serialize`` writes it
(format version 6):

    u32 version | string spec_name | u32 spec_revision | u32 n_variables
    n_variables x (string name | u8 rank | rank x u32 dim | u8 dtype | u32 n_bytes | data)
    u32 n_aliases | n_aliases x (string alias | string target)      (absent before v4)

where ``string`` is a u16 length (bytes including a trailing NUL), the UTF-8 bytes and
the NUL, and ``dtype`` indexes (float32, int8, int16, int32, float16, bfloat16). An
alias names a variable stored once under another name (Whisper's output projection is
the token embedding).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, Union

import numpy as np
import torch

SUPPORTED_VERSION = 6
# Index = CTranslate2's dtype id; bfloat16 has no numpy dtype and is read via torch.
DTYPES = ("float32", "int8", "int16", "int32", "float16", "bfloat16")


class CT2FormatError(ValueError):
    """A file that is not a CTranslate2 model.bin this reader understands."""


@dataclass
class CT2Model:
    """The content of a model.bin: spec name and revision, variables, aliases."""

    spec: str
    revision: int
    variables: Dict[str, torch.Tensor]
    aliases: Dict[str, str] = field(default_factory=dict)
    version: int = SUPPORTED_VERSION

    def get(self, name: str) -> torch.Tensor:
        """A variable by name, following an alias."""
        return self.variables[self.aliases.get(name, name)]

    def has(self, name: str) -> bool:
        return name in self.variables or name in self.aliases


class _Reader:
    def __init__(self, data: memoryview, origin: str):
        self.data, self.pos, self.origin = data, 0, origin

    def take(self, n: int, what: str) -> memoryview:
        if self.pos + n > len(self.data):
            raise CT2FormatError(
                f"{self.origin}: truncated at byte {self.pos} while reading {what} "
                f"(needs {n} bytes, {len(self.data) - self.pos} left)")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str, what: str):
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt), what))[0]

    def string(self, what: str) -> str:
        n = self.unpack("H", what + " length")
        raw = bytes(self.take(n, what))
        if n == 0 or raw[-1] != 0:
            raise CT2FormatError(f"{self.origin}: {what} at byte {self.pos - n} is not NUL-terminated")
        return raw[:-1].decode("utf-8")


def _tensor(raw: memoryview, dtype_id: int, shape, name: str, origin: str) -> torch.Tensor:
    if dtype_id >= len(DTYPES):
        raise CT2FormatError(f"{origin}: variable {name!r} has unknown dtype id {dtype_id} "
                             f"(expected 0..{len(DTYPES) - 1}: {', '.join(DTYPES)})")
    dtype = DTYPES[dtype_id]
    count = int(np.prod(shape)) if shape else 1
    if dtype == "bfloat16":
        flat = torch.frombuffer(bytearray(raw), dtype=torch.int16).view(torch.bfloat16)
    else:
        flat = torch.from_numpy(np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<")).copy())
    if flat.numel() != count:
        raise CT2FormatError(f"{origin}: variable {name!r} holds {len(raw)} bytes, "
                             f"not the {count} {dtype} values of shape {list(shape)}")
    return flat.reshape(shape)


def read_ct2_model(source: Union[str, Path, bytes]) -> CT2Model:
    """Parse a model.bin (a path, or its bytes). Raises CT2FormatError naming the file."""
    origin = "<bytes>" if isinstance(source, (bytes, bytearray)) else str(source)
    data = source if isinstance(source, (bytes, bytearray)) else Path(source).read_bytes()
    r = _Reader(memoryview(data), origin)
    version = r.unpack("I", "format version")
    if version != SUPPORTED_VERSION:
        raise CT2FormatError(
            f"{origin}: CTranslate2 binary format version {version}, expected "
            f"{SUPPORTED_VERSION} (re-convert the model with ctranslate2 >= 3, or this is "
            "not a CTranslate2 model.bin)")
    spec = r.string("spec name")
    revision = r.unpack("I", "spec revision")
    variables = {}
    for i in range(r.unpack("I", "variable count")):
        name = r.string(f"name of variable {i}")
        rank = r.unpack("B", f"rank of {name}")
        shape = tuple(r.unpack("I", f"dimension of {name}") for _ in range(rank))
        dtype_id = r.unpack("B", f"dtype of {name}")
        n_bytes = r.unpack("I", f"byte count of {name}")
        variables[name] = _tensor(r.take(n_bytes, f"data of {name}"), dtype_id, shape, name, origin)
    aliases = {}
    for i in range(r.unpack("I", "alias count")):
        alias = r.string(f"alias {i}")
        aliases[alias] = r.string(f"target of alias {alias}")
        if aliases[alias] not in variables:
            raise CT2FormatError(f"{origin}: alias {alias!r} points to missing variable {aliases[alias]!r}")
    if r.pos != len(r.data):
        raise CT2FormatError(f"{origin}: {len(r.data) - r.pos} unexpected bytes after the aliases")
    return CT2Model(spec, revision, variables, aliases, version)


def read_ct2_parts(parts: Iterable[Union[str, Path]]) -> CT2Model:
    """Parse a model.bin split into consecutive parts (joined in the order given)."""
    parts = [Path(p) for p in parts]
    missing = [str(p) for p in parts if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"model.bin part(s) not found: {', '.join(missing)}")
    if len(parts) == 1:
        return read_ct2_model(parts[0])
    joined = b"".join(p.read_bytes() for p in parts)
    try:
        return read_ct2_model(joined)
    except CT2FormatError as e:
        raise CT2FormatError(f"{' + '.join(map(str, parts))} (joined): {e}".replace("<bytes>: ", "")) from e


def _string(s: str) -> bytes:
    raw = s.encode("utf-8") + b"\0"
    return struct.pack("<H", len(raw)) + raw


def write_ct2_model(path: Union[str, Path], model: CT2Model) -> None:
    """Write ``model`` in format version 6 (the inverse of read_ct2_model)."""
    out = [struct.pack("<I", SUPPORTED_VERSION), _string(model.spec),
           struct.pack("<I", model.revision), struct.pack("<I", len(model.variables))]
    for name in sorted(model.variables):
        t = model.variables[name].detach().cpu().contiguous()
        dtype = str(t.dtype).replace("torch.", "")
        if dtype not in DTYPES:
            raise CT2FormatError(f"variable {name!r}: dtype {dtype} is not one of {', '.join(DTYPES)}")
        raw = (t.view(torch.int16) if dtype == "bfloat16" else t).numpy().astype(
            np.dtype("int16" if dtype == "bfloat16" else dtype).newbyteorder("<")).tobytes()
        out += [_string(name), struct.pack("<B", t.dim()),
                b"".join(struct.pack("<I", d) for d in t.shape),
                struct.pack("<B", DTYPES.index(dtype)), struct.pack("<I", len(raw)), raw]
    out.append(struct.pack("<I", len(model.aliases)))
    for alias in sorted(model.aliases):
        out += [_string(alias), _string(model.aliases[alias])]
    Path(path).write_bytes(b"".join(out))
