"""What tables, plots, run names, the stage script and the benchmark know about each
method, read without importing torch.

Every method module declares a ``CARD`` dict literal next to its config and layer, and
registers its layer under ``CARD["name"]``; this module reads the literals with ``ast``
(the recipe helpers that need the catalog never import torch). Fields:

- ``name``, ``display`` (tables, legends), ``order`` (rows and legends sort by it),
  ``color``, ``marker`` (one look per method across plots), ``group`` (``seed``: the
  methods the project is about; ``baseline``: the seed papers' comparisons);
- ``hyperparameters``: the adapter_conf keys that name a run and appear in tables, in
  run-name order, each ``{"tag": label in run names, "ascii": ..., "unicode": ...,
  "latex": ..., "percent": true for fractions}`` (defaults: the key; ascii for unicode;
  ascii escaped for LaTeX);
- optional: ``reports_ranks`` (the layer reports a learned rank distribution: dump_ranks
  and the rank heatmap), ``sweep_plot`` ({"key", "label"}: results draw WER against
  that hyperparameter when a sweep varied it), ``benchmark`` (adapter_conf of the
  benchmark run), ``hf_peft`` (extra ``peft.LoraConfig`` arguments of the HF peft
  counterpart), ``svd_init`` (set-up takes an SVD of the base weights).

The zero-shot reference row (the base model unchanged) has a card here: it is no
method, but tables and plots show it like one.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

ZERO_SHOT = "zero_shot"
# Full fine-tuning (methods/full.py): the reference the tables' "gap to full FT" column
# compares against, and what a run without an adapter is.
FULL = "full"
# The method the benchmark also gives every ratio against ("vs_our_lora").
BENCHMARK_REFERENCE = "lora"
_ZERO_SHOT_CARD = {"name": ZERO_SHOT, "display": "zero-shot", "order": 0, "color": "#7f7f7f",
                   "marker": "x", "group": "reference"}
_FIELDS = {"name", "display", "order", "color", "marker", "group", "hyperparameters",
           "reports_ranks", "sweep_plot", "benchmark", "hf_peft", "svd_init"}
_STYLES = ("ascii", "unicode", "latex")


@dataclass(frozen=True)
class MethodCard:
    name: str
    display: str
    order: int
    color: str
    marker: str
    group: str
    hyperparameters: Dict[str, Dict[str, object]] = field(default_factory=dict)
    reports_ranks: bool = False
    sweep_plot: Optional[Dict[str, str]] = None
    benchmark: Optional[Dict[str, object]] = None
    hf_peft: Optional[Dict[str, object]] = None
    svd_init: bool = False
    module: str = ""


def _read_card(path: Path) -> Optional[dict]:
    for node in ast.parse(path.read_text(encoding="utf-8"), str(path)).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "CARD" for t in node.targets):
            try:
                return ast.literal_eval(node.value)
            except ValueError as e:
                raise ValueError(f"{path}: CARD must be a literal dict ({e})") from None
    return None


def _card(raw: dict, where: str) -> MethodCard:
    unknown = sorted(set(raw) - _FIELDS)
    missing = sorted({"name", "display", "order", "color", "marker", "group"} - set(raw))
    if unknown or missing:
        raise ValueError(f"{where}: CARD has unknown fields {unknown} / lacks {missing}")
    return MethodCard(**raw, module=where)


@functools.lru_cache(maxsize=None)
def cards() -> Dict[str, MethodCard]:
    """Name -> card of the zero-shot reference and of every method, in table order."""
    found = [_card(_ZERO_SHOT_CARD, __name__)]
    for path in sorted(Path(__file__).parent.glob("*.py")):
        raw = _read_card(path) if path.stem not in ("__init__", "catalog") else None
        if raw is not None:
            found.append(_card(raw, f"espnet_peft.methods.{path.stem}"))
    names = [c.name for c in found]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"method cards declared twice: {duplicates}")
    _check_labels(found)
    return {c.name: c for c in sorted(found, key=lambda c: (c.order, c.name))}


def method_names(group: Optional[str] = None) -> List[str]:
    """The methods (not zero-shot) in table order; only those of ``group`` if given."""
    return [n for n, c in cards().items() if n != ZERO_SHOT and (group is None or c.group == group)]


def reference_methods() -> List[str]:
    """The rows every table starts with: the base unchanged and full fine-tuning."""
    return [ZERO_SHOT, FULL]


def rank_methods() -> List[str]:
    """The methods whose layers report a learned rank distribution (``reports_ranks``)."""
    return [n for n, c in cards().items() if c.reports_ranks]


def card(name: str) -> Optional[MethodCard]:
    return cards().get(name)


def display_name(name: str) -> str:
    c = card(name)
    return c.display if c else name


def order_key(name: str) -> Tuple[int, str]:
    """Sort key: catalog order, methods unknown to the catalog last, by name."""
    c = card(name)
    return (c.order if c else 10**6, name)


_EXTRA_COLORS = ["#ffbb78", "#98df8a", "#c5b0d5", "#c49c94"]


def color(name: str) -> str:
    c = card(name)
    return c.color if c else _EXTRA_COLORS[sum(map(ord, name)) % len(_EXTRA_COLORS)]


def marker(name: str) -> str:
    c = card(name)
    return c.marker if c else "o"


def tag_keys(name: Optional[str] = None) -> List[str]:
    """The adapter_conf keys that name a run of ``name`` (every method's, in catalog
    order, for a method the catalog does not know or for None)."""
    c = card(name) if name else None
    if c is not None:
        return list(c.hyperparameters)
    keys: Dict[str, None] = {}
    for other in cards().values():
        keys.update(dict.fromkeys(other.hyperparameters))
    return list(keys)


def _labels(key: str, spec: Dict[str, object]) -> Dict[str, object]:
    ascii_ = str(spec.get("ascii", key))
    return {"tag": str(spec.get("tag", key)), "ascii": ascii_, "unicode": str(spec.get("unicode", ascii_)),
            "latex": spec.get("latex"), "percent": bool(spec.get("percent", False))}


def _check_labels(found: List[MethodCard]) -> None:
    seen: Dict[str, Tuple[str, Dict[str, object]]] = {}
    for c in found:
        for key, spec in c.hyperparameters.items():
            labels = _labels(key, spec)
            if key in seen and seen[key][1] != labels:
                raise ValueError(f"hyperparameter {key!r} is labelled differently by {seen[key][0]} "
                                 f"and {c.module}: {seen[key][1]} vs {labels}")
            seen[key] = (c.module, labels)


def hyperparameter_labels(key: str) -> Dict[str, object]:
    """How ``key`` is written: ``tag`` (run names), ``ascii``, ``unicode``, ``latex`` (None:
    escape the ascii label) and ``percent`` (a fraction shown as a percentage)."""
    for c in cards().values():
        if key in c.hyperparameters:
            return _labels(key, c.hyperparameters[key])
    return _labels(key, {})
