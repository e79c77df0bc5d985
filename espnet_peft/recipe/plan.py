"""Stage 6's plan: one composed training config and one experiment directory per
(target domain, method), printed as ``domain method exp_dir`` lines.

    python -m espnet_peft.recipe.plan --expdir exp --base_conf exp/base/config.yaml \
        --adapt_config conf/adapt.yaml --adapter_conf_dir conf/adapter \
        --domains "child accented" --methods "full lora ssvd"

Layers: the base model's training config (architecture, frontend, normalisation,
tokenizer), then ``adapt_config`` (optimiser, epochs, batches), then
``<adapter_conf_dir>/<method>.yaml`` (``use_adapter``/``adapter``/``adapter_conf`` and
any per-method overrides; optional for ``full``). The directory name carries the
method and its key hyperparameters (``adapt_child_lora_r8_alpha16_lr0p003``), so runs
of a sweep never share a directory.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from espnet_peft.recipe.config import compose, experiment_tag


def plan(expdir, base_conf, adapt_config, adapter_conf_dir, domains, methods):
    expdir, conf_dir = Path(expdir), Path(adapter_conf_dir)
    (expdir / "configs").mkdir(parents=True, exist_ok=True)
    runs = []
    for method in methods:
        if method == "zero_shot":
            continue
        layers = [str(base_conf), str(adapt_config)]
        method_file = conf_dir / f"{method}.yaml"
        if method_file.is_file():
            layers.append(str(method_file))
        elif method != "full":
            raise SystemExit(f"no {method_file} for method {method}: add one with adapter_conf")
        conf = compose(layers, [] if method == "full" else ["use_adapter=true", f"adapter={method}"])
        if method == "full":
            conf["use_adapter"] = False
        tag = experiment_tag(conf)
        out = expdir / "configs" / f"{tag}.yaml"
        out.write_text(yaml.safe_dump(conf, sort_keys=False), encoding="utf-8")
        for domain in domains:
            runs.append((domain, method, expdir / f"adapt_{domain}_{tag}", out))
    return runs


def main(cmd=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--expdir", required=True)
    parser.add_argument("--base_conf", required=True)
    parser.add_argument("--adapt_config", required=True)
    parser.add_argument("--adapter_conf_dir", required=True)
    parser.add_argument("--domains", required=True)
    parser.add_argument("--methods", required=True)
    args = parser.parse_args(cmd)
    for domain, method, exp_dir, conf in plan(args.expdir, args.base_conf, args.adapt_config,
                                               args.adapter_conf_dir, args.domains.split(),
                                               args.methods.split()):
        print(domain, method, exp_dir, conf)


if __name__ == "__main__":
    main()
