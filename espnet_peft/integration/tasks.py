"""ESPnet tasks whose ``--adapter`` accepts every espnet_peft method, and their trainer.

``PeftTrainer.run`` initialises the adapters from the weights ESPnet has loaded
(``--init_param``) before the first step (PiSSA/SSVD/SSVD-O's SVD, DoRA's magnitude),
records the base-model fingerprint, installs the proximal steps of penalties applied
after the optimiser step (S2-LoRA's L1; ``espnet_peft.core.proximal``), writes the run
summary, and makes ``--save_strategy adapter_only`` work for our methods (ESPnet's
trainer knows only lora/houlsby there). The classes are module-level names (``Peft<Task>``,
``Peft<Task>Trainer``) so that they pickle into the processes ESPnet spawns per GPU.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import logging
import time
from pathlib import Path

import torch

from espnet_peft.core.inject import initialize_adapters
from espnet_peft.core.proximal import install_proximal_steps
from espnet_peft.core.registry import registered_methods
from espnet_peft.integration.adapters import is_peft_method
from espnet_peft.integration.run_files import write_fingerprint, write_run_summary


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
                if install_proximal_steps(model, optimizers):
                    logging.info("espnet_peft: proximal steps (L1 soft-thresholding) after every optimizer step")
                if main_process:
                    write_fingerprint(model, output_dir)
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
    Made once per task; importable as ``espnet_peft.integration.tasks.Peft<Task>`` so that it pickles
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
            from espnet_peft.checkpoint.safe_io import espnet_io_guards  # needs numpy: loaded here

            with espnet_io_guards():
                return super().main_worker(args)

        @classmethod
        def get_parser(cls) -> argparse.ArgumentParser:
            parser = super().get_parser()
            from espnet2.layers.create_adapter import create_adapter_fn_table

            for action in parser._actions:
                if action.dest == "adapter":
                    action.choices = sorted(create_adapter_fn_table)
                    action.help = "Adapter name (espnet_peft methods: " + ", ".join(sorted(registered_methods())) + ")"
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
