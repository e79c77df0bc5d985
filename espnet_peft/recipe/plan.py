"""Stage 6's plan: one composed training config and one experiment directory per
(target domain, method), printed as ``domain method exp_dir config`` lines.

    python -m espnet_peft.recipe plan --expdir exp --base_conf exp/base/config.yaml \
        --adapt_config conf/adapt.yaml --adapter_conf_dir conf/adapter \
        --domains "child accented" --methods "full lora ssvd" [--plan_file exp/jobs/plan.txt]

Layers: the base model's training config (architecture, frontend, normalisation,
tokenizer), then ``adapt_config`` (optimiser, epochs, batches), then
``<adapter_conf_dir>/<method>.yaml`` (``use_adapter``/``adapter``/``adapter_conf`` and
any per-method overrides; optional for ``full``). ``full`` runs as ESPnet's plain full
fine-tuning (``use_adapter: false``): the same training as the registered ``full``
method, whose adapter-only checkpoint is the whole model anyway, and it keeps the
experiment names and checkpoints that ESPnet's own tools read. The directory name carries the
method and its key hyperparameters (``adapt_child_lora_r8_alpha16_lr0p003``), so runs
of a sweep never share a directory.

``--sweep "lora:r=4,8,16 ssvd_o:budget_ratio=0.25,0.5,0.75:k_fraction=0.2,0.4"`` expands
a method into the grid of the listed values (keys without a dot are ``adapter_conf``
keys; dotted keys such as ``optim_conf.lr`` address the training config). With
``cmd_backend=slurm`` the stage script submits the whole grid as one Slurm array.

``--methods`` takes what the stage script's ``--methods`` does (``all``, ``seed``,
``baselines`` and method names: ``espnet_peft.recipe.methods``). ``--plan_file`` also
writes the lines to a file (left alone when they are unchanged): stage 9 lists the
planned runs there, so that a run which never started shows up as missing.
"""

from __future__ import annotations

import argparse
import itertools
import re
from pathlib import Path
from typing import Dict, List, Tuple

import yaml

from espnet_peft.methods import catalog
from espnet_peft.core.atomic import write_if_changed
from espnet_peft.recipe.config import compose, config_value, experiment_tag, tag_part
from espnet_peft.recipe.methods import expand
from espnet_peft.results.schema import run_dir_name


# Settings of the run that *pretrained* the base, reset to ESPnet's defaults between the
# base config and the adaptation layers (which may set them again): a released OWSM
# config.yaml carries num_iters_per_epoch 15000 (an "epoch" of adaptation would be 15000
# steps whatever the data size), checkpoint averaging every 5 epochs and TensorBoard on
# (not installed here: ESPnet would fail when training starts).
PRETRAINING_RUN = {"num_iters_per_epoch": None, "nbest_averaging_interval": 0,
                   "use_tensorboard": False, "use_wandb": False}


def parse_sweep(spec: str) -> Dict[str, List[Tuple[str, List[str]]]]:
    """``"lora:r=4,8 ssvd:k_fraction=0.2,0.4"`` -> {"lora": [("adapter_conf.r", ["4", "8"])], ...}"""
    grid: Dict[str, List[Tuple[str, List[str]]]] = {}
    for item in spec.split():
        method, *axes = item.split(":")
        if not axes:
            raise SystemExit(f"--sweep item {item!r}: expected method:key=v1,v2[:key=...]")
        for axis in axes:
            key, sep, values = axis.partition("=")
            if not sep or not key or not values:
                raise SystemExit(f"--sweep item {item!r}: bad axis {axis!r} (expected key=v1,v2)")
            key = key if "." in key else f"adapter_conf.{key}"
            grid.setdefault(method, []).append((key, values.split(",")))
    return grid


def plan(expdir, base_conf, adapt_config, adapter_conf_dir, domains, methods, sweep: str = ""):
    expdir, conf_dir = Path(expdir), Path(adapter_conf_dir)
    (expdir / "configs").mkdir(parents=True, exist_ok=True)
    grid = parse_sweep(sweep)
    runs = []
    for method in methods:
        if method == catalog.ZERO_SHOT:
            continue
        layers = [str(base_conf), PRETRAINING_RUN, str(adapt_config)]
        method_file = conf_dir / f"{method}.yaml"
        if method_file.is_file():
            layers.append(str(method_file))
        elif method != catalog.FULL:
            raise SystemExit(f"no {method_file} for method {method}: add one with adapter_conf")
        axes = grid.pop(method, [])
        for values in itertools.product(*[v for _, v in axes]):
            sets = [] if method == catalog.FULL else ["use_adapter=true", f"adapter={method}"]
            sets += [f"{key}={value}" for (key, _), value in zip(axes, values)]
            conf = compose(layers, sets)
            if method == catalog.FULL:
                conf["use_adapter"] = False
            tag = experiment_tag(conf)
            for key, _ in axes:  # swept keys the tag does not show yet
                part = tag_part(key.rsplit(".", 1)[-1], config_value(conf, key))
                if not re.search(rf"(?:^|_){re.escape(part)}(?:_|$)", tag):
                    tag += f"_{part}"
            out = expdir / "configs" / f"{tag}.yaml"
            out.write_text(yaml.safe_dump(conf, sort_keys=False), encoding="utf-8")
            for domain in domains:
                runs.append((domain, method, expdir / run_dir_name(domain, tag), out))
    if grid:
        raise SystemExit(f"--sweep names methods not in --methods: {sorted(grid)}")
    return runs


def main(cmd=None):
    """Stage 6's plan: a training config and an experiment directory per (domain, method)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--expdir", required=True)
    parser.add_argument("--base_conf", required=True)
    parser.add_argument("--adapt_config", required=True)
    parser.add_argument("--adapter_conf_dir", required=True)
    parser.add_argument("--domains", required=True)
    parser.add_argument("--methods", required=True)
    parser.add_argument("--sweep", default="", help='e.g. "lora:r=4,8,16 ssvd:k_fraction=0.2,0.4"')
    parser.add_argument("--plan_file", help="also write the lines here (unless unchanged)")
    args = parser.parse_args(cmd)
    try:
        methods = expand(args.methods)
    except ValueError as e:
        raise SystemExit(f"plan: {e}") from None
    lines = [f"{domain} {method} {exp_dir} {conf}" for domain, method, exp_dir, conf
             in plan(args.expdir, args.base_conf, args.adapt_config, args.adapter_conf_dir,
                     args.domains.split(), methods, args.sweep)]
    for line in lines:
        print(line)
    if args.plan_file:
        write_if_changed(args.plan_file, "".join(line + "\n" for line in lines) or "\n")


if __name__ == "__main__":
    main()
