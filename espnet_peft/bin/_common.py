"""Shared code of the entry points."""

from __future__ import annotations

import importlib
import sys
from typing import List, Optional, Sequence, Tuple

BASE_OPTION = "--base_model_file"
BASE_HELP = (f"espnet_peft option: {BASE_OPTION} PATH  base (pretrained) ESPnet checkpoint for "
             "an adapter-only model file; default: the training config's init_param")


def run_train(task: str, cmd: Optional[Sequence[str]] = None) -> None:
    import espnet_peft  # noqa: F401  (adds the adapters to ESPnet once its tasks load)
    from espnet_peft.integration.tasks import peft_task
    from espnet_peft.integration.tasks import task_class

    peft_task(task_class(task)).main(cmd=cmd)


def run_inference(task: str, espnet_module: str, cmd: Optional[Sequence[str]] = None) -> None:
    import espnet_peft  # noqa: F401
    from espnet_peft.integration.tasks import task_class
    from espnet_peft.integration.loading import patched_task

    argv = list(sys.argv[1:] if cmd is None else cmd)
    if "-h" in argv or "--help" in argv:
        print(BASE_HELP)
    base, rest = pop_option(argv, BASE_OPTION)
    with patched_task(task_class(task), base):
        importlib.import_module(espnet_module).main(rest)


def model_arguments(parser):
    """Options naming an adapted ESPnet model: task, config, checkpoint, base."""
    parser.add_argument("--task", choices=["asr", "s2t"], default="asr")
    parser.add_argument("--config", required=True, help="training config.yaml of the adapted model")
    parser.add_argument("--model_file", required=True,
                        help="checkpoint from training (.pth, full or adapter-only) or a .safetensors adapter")
    parser.add_argument(BASE_OPTION, default=None,
                        help="pretrained base checkpoint (default: the config's init_param)")
    return parser


def load_adapted_model(args):
    import espnet_peft  # noqa: F401
    from espnet_peft.integration.tasks import task_class
    from espnet_peft.integration.loading import build_model, uses_peft_adapter

    model, train_args = build_model(task_class(args.task), args.config, args.model_file,
                                    "cpu", args.base_model_file)
    if not uses_peft_adapter(train_args):
        raise SystemExit(f"{args.config} does not describe an espnet_peft adapter model "
                         "(use_adapter/adapter)")
    return model, train_args


def pop_option(argv: Sequence[str], name: str) -> Tuple[Optional[str], List[str]]:
    """Remove ``--name VALUE`` / ``--name=VALUE`` from argv; return (value, rest)."""
    rest, value, it = [], None, iter(argv)
    for a in it:
        if a == name:
            try:
                value = next(it)
            except StopIteration:
                raise SystemExit(f"{name} needs a value") from None
        elif a.startswith(name + "="):
            value = a.split("=", 1)[1]
        else:
            rest.append(a)
    return value, rest
