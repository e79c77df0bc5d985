"""Adapter configuration dataclasses: the fields every method shares, and strict parsing."""

from __future__ import annotations

import dataclasses
import difflib
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Dict, List, Type, TypeVar

from espnet_peft.core.errors import AdapterConfigError

# ESPnet's attention and feed-forward projections (Transformer, Conformer,
# E-Branchformer). Suffix patterns: "linear_q" hits encoder and decoder alike.
DEFAULT_TARGET_MODULES = ["linear_q", "linear_k", "linear_v", "linear_out", "w_1", "w_2"]


@dataclass
class AdapterConfig:
    """Fields common to every method.

    target_modules: module-name suffixes (``"linear_q"`` matches
    ``encoder.encoders.0.self_attn.linear_q``) or regular expressions matched against
    the full module name (``r"encoder\\.encoders\\.[45]\\..*"``); a pattern that
    matches nothing is an error (a typo must not silently adapt fewer layers).
    optional_target_modules: patterns adapted where the architecture has them and
    skipped where it does not (one config for several architectures: E-Branchformer's
    cgMLP projections on OWSM, absent from OWLS's Transformer encoder).
    """

    target_modules: List[str] = field(default_factory=lambda: list(DEFAULT_TARGET_MODULES))
    optional_target_modules: List[str] = field(default_factory=list)
    # Fields added to a method after its configs were first stored, with the value that a
    # stored config without the field meant. Adapter files store every field, so a
    # missing one means the file was written before the field existed.
    stored_before: ClassVar[Dict[str, Any]] = {}

    @classmethod
    def upgrade_stored(cls, stored: Dict[str, Any]) -> Dict[str, Any]:
        """A stored config (``to_dict``) with the fields it predates filled in."""
        return {**{k: v for k, v in cls.stored_before.items() if k not in stored}, **stored}

    def validate(self) -> None:
        if isinstance(self.target_modules, str):
            self.target_modules = [self.target_modules]
        if isinstance(self.optional_target_modules, str):
            self.optional_target_modules = [self.optional_target_modules]
        if not self.target_modules:
            raise AdapterConfigError("target_modules is empty: name at least one module pattern")

    # Checks the methods' validate() share; errors name the field and what it must be.
    def check_integer(self, *names: str, minimum: int = 1) -> None:
        """Each field must be a whole number >= ``minimum``; it is stored as ``int``."""
        what = {0: "a non-negative integer", 1: "a positive integer"}.get(minimum, f"an integer >= {minimum}")
        for name in names:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value \
                    or value < minimum:
                raise AdapterConfigError(f"{name} must be {what}, got {value!r}")
            setattr(self, name, int(value))

    def check_interval(self, name: str, low: float, high: float = math.inf, brackets: str = "[]") -> None:
        """The field must lie in the interval, e.g. ``brackets="[)"`` for low <= v < high."""
        value = getattr(self, name)
        above = value >= low if brackets[0] == "[" else value > low
        below = value <= high if brackets[1] == "]" else value < high
        if not (above and below):
            raise AdapterConfigError(f"{name} must be in {brackets[0]}{low:g}, {high:g}{brackets[1]}, got {value!r}")

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)


C = TypeVar("C", bound=AdapterConfig)

# Names HF peft and papers use for our keys, suggested when they appear in adapter_conf.
PEFT_NAMES = {"rank": "r", "lora_r": "r", "lora_alpha": "alpha", "lora_dropout": "dropout",
              "target": "target_modules", "targets": "target_modules"}


def parse_config(cls: Type[C], method: str, conf: Dict[str, Any]) -> C:
    """Build ``cls`` from a dict, refusing unknown keys and wrongly typed values."""
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(conf) - set(known))
    if unknown:
        hints = [f"{k!r} -> {m[0]!r}?" for k in unknown
                 if (m := [PEFT_NAMES[k]] if PEFT_NAMES.get(k) in known
                     else difflib.get_close_matches(k, known, n=1, cutoff=0.6))]
        raise AdapterConfigError(
            f"unknown adapter_conf key(s) for method '{method}': {unknown}; "
            f"valid keys are {sorted(known)}" + (f" (did you mean {', '.join(hints)})" if hints else "")
        )
    values = {}
    for name, value in conf.items():
        default = known[name].default
        if isinstance(default, bool) and not isinstance(value, bool):
            raise AdapterConfigError(f"adapter_conf '{name}' for '{method}' must be true/false, got {value!r}")
        if isinstance(default, (int, float)) and not isinstance(default, bool):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise AdapterConfigError(
                    f"adapter_conf '{name}' for '{method}' must be a number, got {value!r}")
            value = type(default)(value) if isinstance(default, float) else value
        values[name] = value
    config = cls(**values)
    config.validate()
    return config


def deep_merge(base: Dict[str, Any], override: Dict[str, Any]) -> Dict[str, Any]:
    """``override`` over ``base``, key by key: mappings merge recursively, lists and scalars
    replace (how YAML config layers combine)."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out
