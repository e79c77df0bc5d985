"""The result row that ``espnet_peft.results.scan`` produces and the tables and plots read:
its fields (``COLUMNS``, the CSV's columns in order; rows also carry ``metric``, the error
rate a run was scored by, and ``<wer column>_ci``, each error rate's 95 % bootstrap
interval (lo, hi) or None), the status words a run without numbers shows in its WER
cells, and the reference rows every table starts with."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional, Tuple

from espnet_peft.methods import catalog

Row = Dict[str, object]

# The error rates of a row: target dev and test (learning), source dev and test (forgetting).
WER_COLUMNS = ("dev_wer", "target_wer", "source_dev_wer", "source_wer")
COLUMNS = ["model", "domain", "method", "tag", "hyperparameters", "status", "trainable_params",
           "trainable_pct", "base_params",
           *(f"{c}{part}" for c in WER_COLUMNS for part in ("", "_lo", "_hi")),
           "gap_to_full_pct", "train_time_s", "peak_mem_mb", "exp_dir", "note"]
OK = "ok"
# Statuses, in the words the tables print.
FAILED, UNFINISHED, NOT_TRAINED, MISSING = "failed", "unfinished", "not trained", "missing"
NOT_DECODED, NOT_SCORED = "not decoded", "not scored"
# Zero-shot and full fine-tuning: a LaTeX table rules them off from the adapted runs.
REFERENCE_METHODS = tuple(catalog.reference_methods())


def ci_key(column: str) -> str:
    """The row field holding the interval of one of the ``WER_COLUMNS``."""
    return f"{column}_ci"


def interval(row: Row, column: str) -> Optional[Tuple[float, float]]:
    """The 95 % bootstrap interval (lo, hi) of one of a row's ``WER_COLUMNS``, or None
    (no number, or a score.json written before scoring added intervals)."""
    return row.get(ci_key(column))


# Experiment directories the stage script makes and the scan reads.
def run_dir_name(domain: str, tag: str) -> str:
    """The experiment directory of one adaptation run: ``adapt_child_lora_r8_alpha16_lr0p003``."""
    return f"adapt_{domain}_{tag}"


def tag_of(run_dir, domain: str) -> str:
    """``run_dir_name``'s tag back (the whole name if it is not one of ``domain``'s runs)."""
    name, prefix = Path(run_dir).name, run_dir_name(domain, "")
    return name[len(prefix):] if name.startswith(prefix) else name
