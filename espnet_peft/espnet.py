"""ESPnet integration: adapter registration, a task wrapper for training, and model
loading for inference.

ESPnet's order in ``AbsTask.main_worker`` is build -> freeze -> ``create_adapter`` ->
optimizer -> load ``--init_param`` -> ``Trainer.run``. Our ``create_adapter`` functions
only give adapters their shapes; ``PeftTrainer.run`` initialises them from the weights
ESPnet has loaded by then (PiSSA/SSVD/SSVD-O's SVD, DoRA's magnitude) before the first
step, records the base-model fingerprint, and makes ``--save_strategy adapter_only``
work for our methods (ESPnet's trainer knows only lora/houlsby there).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import time
from pathlib import Path
from typing import Optional, Sequence

import torch

from espnet_peft.inject import (
    adapter_layers, adapter_regularization, initialize_adapters, inject_adapters,
    mark_only_adapters_trainable,
)
from espnet_peft.registry import METHODS

FINGERPRINT_FILE = "base_fingerprint.safetensors"
ESPNET_BUILTIN_LORA = "espnet_lora"


def _add_regularization_to_loss(module, args, output):
    """ESPnet models return (loss, stats, weight); add the adapters' penalty in training."""
    if not module.training or not isinstance(output, tuple) or not torch.is_tensor(output[0]):
        return output
    reg = adapter_regularization(module)
    if reg is None:
        return output
    stats = output[1]
    if isinstance(stats, dict):
        stats = dict(stats, adapter_reg=reg.detach())
    return (output[0] + reg, stats) + tuple(output[2:])


def _adapter_fn(method: str):
    def create(model: torch.nn.Module, **adapter_conf) -> None:
        inject_adapters(model, method, **adapter_conf)
        # Unlike ESPnet's built-in lora, never leave the base weights trainable.
        mark_only_adapters_trainable(model)
        if any(layer.regularization_loss() is not None for _, layer in adapter_layers(model)):
            model.register_forward_hook(_add_regularization_to_loss)
    create.__name__ = f"create_{method}_adapter"
    return create


def register_espnet_adapters() -> None:
    """Add every method to ``create_adapter_fn_table``. Ours replaces ESPnet's loralib
    ``lora``, which stays available as ``espnet_lora``."""
    from espnet2.layers import create_adapter as ca

    table = ca.create_adapter_fn_table
    if ESPNET_BUILTIN_LORA not in table and "lora" in table:
        table[ESPNET_BUILTIN_LORA] = table["lora"]
    for name in METHODS:
        table[name] = _adapter_fn(name)


def is_peft_method(name: Optional[str]) -> bool:
    return name in METHODS


# ----- training ------------------------------------------------------------------------

def _write_fingerprint(model, output_dir: Path) -> None:
    from safetensors.torch import save_file

    from espnet_peft.state import _atomic_write, base_fingerprint

    structure, table = base_fingerprint(model)
    _atomic_write(output_dir / FINGERPRINT_FILE,
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
    from espnet_peft.inject import added_parameter_count, count_parameters
    from espnet_peft.memory import peak_rss_mb

    trainable, total = count_parameters(model)
    adapter = str(getattr(trainer_options, "adapter", "")) if getattr(trainer_options, "use_adapter", False) else ""
    summary = {
        "method": adapter.replace("espnet_peft.", "") if adapter else "full",
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


def make_peft_trainer(base_trainer):
    class PeftTrainer(base_trainer):
        @classmethod
        def build_options(cls, args: argparse.Namespace):
            options = base_trainer.build_options(args)
            if getattr(args, "use_adapter", False) and is_peft_method(args.adapter):
                changes = {"adapter": f"espnet_peft.{args.adapter}"}
                if args.save_strategy == "adapter_only":
                    # Saves trainable tensors + all buffers: our adapter tensors, their
                    # "initialised" flags and BatchNorm statistics; the base comes from
                    # --init_param at decoding time.
                    changes["save_strategy"] = "required_grad_only"
                options = dataclasses.replace(options, **changes)
            return options

        @classmethod
        def run(cls, model, optimizers, schedulers, train_iter_factory, valid_iter_factory,
                plot_attention_iter_factory, trainer_options, distributed_option) -> None:
            output_dir = Path(trainer_options.output_dir)
            main_process = not distributed_option.distributed or distributed_option.dist_rank == 0
            if str(getattr(trainer_options, "adapter", "")).startswith("espnet_peft."):
                n = initialize_adapters(model)
                logging.info("espnet_peft: initialised %d adapter layers from the loaded weights", n)
                if main_process:
                    _write_fingerprint(model, output_dir)
            start = time.time()
            result = super().run(model, optimizers, schedulers, train_iter_factory,
                                 valid_iter_factory, plot_attention_iter_factory,
                                 trainer_options, distributed_option)
            if main_process:
                write_run_summary(model, trainer_options, output_dir, time.time() - start)
            if distributed_option.distributed and torch.distributed.is_initialized():
                # Without this, gloo workers can abort at interpreter exit ("terminate
                # called without an active exception") after a successful run.
                torch.distributed.barrier()
                torch.distributed.destroy_process_group()
            return result

    return PeftTrainer


def peft_task(task_cls):
    """A subclass of an ESPnet task whose ``--adapter`` accepts every registered method.
    Made once per task; importable as ``espnet_peft.espnet.Peft<Task>`` so that it pickles
    into the processes ESPnet spawns for multi-GPU training."""
    name = f"Peft{task_cls.__name__}"
    if name in globals():
        return globals()[name]

    class PeftTask(task_cls):
        trainer = make_peft_trainer(task_cls.trainer)

        @classmethod
        def main_worker(cls, args: argparse.Namespace):
            # Runs in every training process (also those spawned per GPU): ESPnet's
            # torch.load/torch.save become weights-only loads and atomic saves.
            from espnet_peft.safe_io import espnet_io_guards

            with espnet_io_guards():
                return super().main_worker(args)

        @classmethod
        def get_parser(cls) -> argparse.ArgumentParser:
            parser = super().get_parser()
            from espnet2.layers.create_adapter import create_adapter_fn_table

            for action in parser._actions:
                if action.dest == "adapter":
                    action.choices = sorted(create_adapter_fn_table)
                    action.help = "Adapter name (espnet_peft methods: " + ", ".join(sorted(METHODS)) + ")"
            return parser

    # Module-level names so that the classes pickle (ESPnet spawns one process per GPU).
    for cls, cls_name in ((PeftTask, name), (PeftTask.trainer, f"{name}Trainer")):
        cls.__name__ = cls.__qualname__ = cls_name
        cls.__module__ = __name__
        globals()[cls_name] = cls
    return PeftTask


# Short name -> (module, class) of the ESPnet tasks the entry points serve.
TASKS = {"asr": ("espnet2.tasks.asr", "ASRTask"), "s2t": ("espnet2.tasks.s2t", "S2TTask")}


def task_class(name: str):
    """ESPnet task class by short name (``asr`` or ``s2t``)."""
    import importlib

    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; expected one of {sorted(TASKS)}")
    module, cls = TASKS[name]
    return getattr(importlib.import_module(module), cls)


def __getattr__(name: str):
    """Build ``Peft<Task>`` / ``Peft<Task>Trainer`` on first access (e.g. by unpickling
    in a process ESPnet spawned)."""
    for short, (_, cls) in TASKS.items():
        if name in (f"Peft{cls}", f"Peft{cls}Trainer"):
            peft_task(task_class(short))
            return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
