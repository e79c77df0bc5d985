"""Training curves from ESPnet's ``train.log``: the trainer logs one summary per epoch,

    ... (trainer:394) INFO: 3epoch results: [train] ..., loss=8.934, ..., [valid] loss=10.105, acc=0.805, ...

(``espnet2.train.reporter.Reporter.log_message``). Parsed into
{epoch: {"train": {"loss": 8.934, ...}, "valid": {...}}}; non-numeric fields
(``time=2.8 seconds``) are skipped. A resumed run logs an epoch again: the last wins.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict

EPOCH_LINE = re.compile(r"\b(\d+)epoch results: (.*)$")
SECTION = re.compile(r"\[(\w+)\]\s*(.*?)(?=,?\s*\[\w+\]|$)")

Curves = Dict[int, Dict[str, Dict[str, float]]]


def parse_epoch_summary(text: str) -> Dict[str, Dict[str, float]]:
    """``[train] loss=1.0, acc=0.5, [valid] loss=2.0`` -> {"train": {...}, "valid": {...}}."""
    out: Dict[str, Dict[str, float]] = {}
    for name, body in SECTION.findall(text):
        values = {}
        for item in body.split(","):
            key, sep, value = item.strip().partition("=")
            if not sep:
                continue
            try:
                values[key] = float(value)
            except ValueError:
                continue
        out[name] = values
    return out


def read_curves(log: Path) -> Curves:
    """Epoch summaries of one ESPnet training log ({} when the log has none yet)."""
    curves: Curves = {}
    if not Path(log).is_file():
        return curves
    for line in Path(log).read_text(encoding="utf-8", errors="replace").splitlines():
        match = EPOCH_LINE.search(line)
        if match:
            curves[int(match.group(1))] = parse_epoch_summary(match.group(2))
    return curves
