"""Learned rank distributions (``espnet_peft.bin.dump_ranks`` output) as a layer x matrix
type grid for the rank heatmap.

Schema: {"method": <a method whose card has ``reports_ranks``>, "layers": [{"name": str,
"shape": [out, in], "rank": int, "values": [float, ...]}]}. A name such as
``encoder.encoders.3.self_attn.linear_q`` splits at its block index into the layer
(``encoder.encoders.3``) and the matrix type (``self_attn.linear_q``); a name without a
block index (``decoder.output_layer``) is a layer of its own, of type ``other``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Dict, List, Tuple

from espnet_peft.methods import catalog

_BLOCK = re.compile(r"^(?P<layer>.+?\.\d+)\.(?P<type>.+)$")


def load_ranks(path) -> dict:
    """Read and check one rank file; errors name the file and the field."""
    path = Path(path)
    methods = tuple(catalog.rank_methods())
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: cannot read rank JSON ({e})") from e
    if not isinstance(data, dict) or data.get("method") not in methods:
        raise ValueError(f"{path}: 'method' must be one of {methods}, got {data.get('method') if isinstance(data, dict) else data!r}")
    layers = data.get("layers")
    if not isinstance(layers, list) or not layers:
        raise ValueError(f"{path}: 'layers' must be a non-empty list")
    for i, layer in enumerate(layers):
        where = f"{path}: layers[{i}]"
        if not isinstance(layer, dict) or not isinstance(layer.get("name"), str):
            raise ValueError(f"{where}: expected an object with a string 'name'")
        if not isinstance(layer.get("rank"), int) or layer["rank"] < 0:
            raise ValueError(f"{where} ({layer['name']}): 'rank' must be a non-negative integer, got {layer.get('rank')!r}")
        shape = layer.get("shape")
        if not (isinstance(shape, list) and len(shape) == 2 and all(isinstance(s, int) for s in shape)):
            raise ValueError(f"{where} ({layer['name']}): 'shape' must be [out, in], got {shape!r}")
        if not isinstance(layer.get("values"), list):
            raise ValueError(f"{where} ({layer['name']}): 'values' must be a list of numbers")
    return data


OTHER = "other"
# Shorter matrix-type labels for the heatmap's columns.
_SHORT_TYPES = (("self_attn.linear_", "self "), ("src_attn.linear_", "src "),
                ("feed_forward_macaron.", "ff_mac "), ("feed_forward.", "ff "))


def split_name(name: str) -> Tuple[str, str]:
    """(layer, matrix type) of a module name; a module outside the numbered blocks is a
    layer of its own, of type ``other``."""
    match = _BLOCK.match(name)
    if match:
        return match.group("layer"), match.group("type")
    return name, OTHER


def short_type(kind: str) -> str:
    for prefix, short in _SHORT_TYPES:
        if kind.startswith(prefix):
            return short + kind[len(prefix):]
    return kind


def rank_grid(data: dict, what: str = "rank") -> Tuple[List[str], List[str], Dict[Tuple[str, str], float]]:
    """(layers, matrix types, {(layer, type): value}): value = the layer's ``rank``, or with
    ``what="magnitude"`` the mean of its |values|. Both axes in first-seen order, ``other``
    last."""
    if what not in ("rank", "magnitude"):
        raise ValueError(f"what must be rank or magnitude, got {what!r}")
    cells: Dict[Tuple[str, str], float] = {}
    for layer in data["layers"]:
        values = [abs(float(v)) for v in layer["values"]]
        cells[split_name(layer["name"])] = (layer["rank"] if what == "rank"
                                            else sum(values) / len(values) if values else 0.0)
    layers = list(dict.fromkeys(k[0] for k in cells))
    types = sorted(dict.fromkeys(k[1] for k in cells), key=lambda t: t == OTHER)  # stable: other last
    return layers, types, cells


def find_rank_files(exp_dir) -> List[Path]:
    """``<exp>/*/ranks.json`` (where a recipe stores dump_ranks output per run)."""
    return sorted(Path(exp_dir).glob("*/ranks.json"))
