"""Files a training run writes beside ESPnet's: the base fingerprint and the run summary."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch

from espnet_peft.core.atomic import atomic_write
from espnet_peft.core.fingerprint import base_fingerprint
from espnet_peft.core.inject import added_parameter_count, count_parameters
from espnet_peft.core.memory import peak_rss_mb
from espnet_peft.methods.catalog import FULL

FINGERPRINT_FILE = "base_fingerprint.safetensors"


def write_fingerprint(model, output_dir: Path) -> None:
    from safetensors.torch import save_file

    structure, table = base_fingerprint(model)
    atomic_write(output_dir / FINGERPRINT_FILE,
                  lambda tmp: save_file({"table": table.contiguous()}, tmp,
                                        metadata={"base_structure_sha256": structure}))


def read_fingerprint(exp_dir: Path):
    from safetensors.torch import load_file
    from safetensors import safe_open

    path = Path(exp_dir) / FINGERPRINT_FILE
    if not path.is_file():
        return None
    with safe_open(str(path), framework="pt") as f:
        structure = f.metadata()["base_structure_sha256"]
    return structure, load_file(str(path))["table"]


def write_run_summary(model, trainer_options, output_dir: Path, wall_s: float) -> None:
    """``peft_summary.json``: what the results table reports about a training run."""
    trainable, total = count_parameters(model)
    adapter = str(getattr(trainer_options, "adapter", "")) if getattr(trainer_options, "use_adapter", False) else ""
    summary = {
        "method": adapter.replace("espnet_peft.", "") if adapter else FULL,
        "trainable_params": trainable,
        "total_params": total,
        "base_params": total - added_parameter_count(model),
        "train_wall_s": round(wall_s, 1),
        "max_epoch": trainer_options.max_epoch,
        "peak_cpu_rss_mb": round(peak_rss_mb(), 1),
        "peak_cuda_mb": (round(torch.cuda.max_memory_allocated() / 2**20, 1)
                         if torch.cuda.is_available() and torch.cuda.is_initialized() else None),
    }
    (output_dir / "peft_summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    logging.info("espnet_peft: %s", summary)
