"""Trainable-parameter counts of adapter methods on an ESPnet model built from a config.

    python -m espnet_peft.bin.count_params --task s2t \
        --config egs2/TEMPLATE/peft1/conf/owsm_v3.1_base_arch.yaml \
        --method lora '{"r": 32, "alpha": 64}' --method ssvd '{"k_fraction": 0.4}'

Builds the architecture on PyTorch's meta device (shapes only: no weights are allocated
or downloaded, so a 2B model counts in seconds and a few hundred MB), injects each method
in turn and prints a table: method, config, adapted layers, trainable parameters, their
share of the base model, and the size of the adapted model (the parameters its forward
uses: semiorth's factorisation makes it smaller, bottleneck adapters larger). Without
``token_list`` in the config, ``vocab_size`` (config key or ``--vocab_size``) sizes a
placeholder vocabulary. With several ``--config`` and ``--markdown`` it prints one
Markdown table, a column per config (the README's table per model size). ``--targets``
sets ``target_modules`` of every method that takes Linear targets, keeping per model the
patterns its architecture has (E-Branchformer's cgMLP projections on OWSM, not on OWLS's
Transformer encoder).
"""

import argparse
import copy
import json
import logging

import yaml


def build_base(task: str, config: str, vocab_size=None, device=None):
    """The model of ``config`` with random weights (or none, on ``device="meta"``)."""
    import torch

    from espnet_peft.integration.tasks import task_class

    with open(config, encoding="utf-8") as f:
        conf = yaml.safe_load(f)
    size = vocab_size or conf.pop("vocab_size", None)
    if not conf.get("token_list"):
        if not size:
            raise SystemExit(f"{config} has no token_list; give --vocab_size")
        specials = ["<blank>", "<unk>", "<na>", "<nolang>", "<notimestamps>", "<sop>", "<sos>", "<eos>", "<sos/eos>"]
        conf["token_list"] = specials[:2] + [f"tok{i}" for i in range(size - len(specials))] + specials[2:]
    conf.setdefault("token_type", "bpe")
    conf.setdefault("bpemodel", None)
    conf.setdefault("input_size", None)
    task_cls = task_class(task)
    parser = task_cls.get_parser()
    args = parser.parse_args([])
    for key, value in conf.items():
        setattr(args, key, value)
    with torch.device(device or torch.get_default_device()):
        return task_cls.build_model(args)


def targets_present(model, patterns):
    """The patterns that select at least one module of ``model``."""
    from espnet_peft.core.targets import pattern_matches

    names = [n for n, _ in model.named_modules() if n]
    return [p for p in patterns if any(pattern_matches(p, n) for n in names)]


def with_targets(name: str, conf: dict, targets) -> dict:
    """``conf`` with ``target_modules`` = ``targets`` where the method selects Linear
    layers by pattern (its default is the attention/feed-forward list) and ``conf``
    names none; bottleneck and full choose their own tensors."""
    import dataclasses

    import espnet_peft
    from espnet_peft.core.config import DEFAULT_TARGET_MODULES

    fields = {f.name: f for f in dataclasses.fields(espnet_peft.get_method(name).config_cls)}
    field = fields.get("target_modules")
    if targets is None or "target_modules" in conf or field is None \
            or field.default_factory() != DEFAULT_TARGET_MODULES:
        return conf
    return dict(conf, target_modules=list(targets))


def count_method(base, name: str, conf: dict) -> dict:
    """Adapted layers, trainable parameters and adapted model size of ``name`` on a copy
    of ``base`` (a meta-device base stays on the meta device)."""
    import torch

    import espnet_peft
    from espnet_peft.core.inject import adapted_model_size

    model = copy.deepcopy(base)
    device = next(base.parameters()).device
    with torch.device(device):
        espnet_peft.inject_adapters(model, name, **conf)
    espnet_peft.mark_only_adapters_trainable(model)
    trainable, _ = espnet_peft.count_parameters(model)
    return {"layers": sum(1 for _ in espnet_peft.adapter_layers(model)), "trainable": trainable,
            # Parameters the adapted model computes with (semiorth's factors replace W0).
            "size": adapted_model_size(model)}


def main(cmd=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", choices=["asr", "s2t"], default="s2t")
    parser.add_argument("--config", action="append", required=True,
                        help="architecture config; repeat for a column per model (--markdown)")
    parser.add_argument("--vocab_size", type=int, default=None)
    parser.add_argument("--method", nargs=2, action="append", metavar=("NAME", "JSON_CONF"),
                        required=True)
    parser.add_argument("--targets", nargs="+", default=None, metavar="PATTERN",
                        help="target_modules of every Linear-targeting method; patterns an "
                             "architecture lacks are dropped for that model")
    parser.add_argument("--markdown", action="store_true",
                        help="one Markdown table: trainable parameters, a column per config")
    args = parser.parse_args(cmd)
    logging.basicConfig(level=logging.WARNING)

    import espnet_peft

    methods = [(name, json.loads(conf_json)) for name, conf_json in args.method]
    rows = {}
    for config in args.config:
        base = build_base(args.task, config, args.vocab_size, device="meta")
        _, total = espnet_peft.count_parameters(base)
        targets = None if args.targets is None else targets_present(base, args.targets)
        counts = [count_method(base, name, with_targets(name, conf, targets)) for name, conf in methods]
        rows[config] = (total, counts)
        if args.markdown:
            continue
        print(f"{config}: base model {total:,} parameters ({total / 1e6:.2f}M)")
        print(f"{'method':10} {'config':44} {'layers':>6} {'trainable':>12} {'% of base':>9} "
              f"{'model size':>12} {'size vs base':>12}")
        for (name, conf), c in zip(methods, counts):
            print(f"{name:10} {json.dumps(conf):44} {c['layers']:6d} {c['trainable']:12,d} "
                  f"{100 * c['trainable'] / total:8.3f}% {c['size']:12,d} "
                  f"{100 * (c['size'] - total) / total:+11.2f}%")
    if args.markdown:
        print(markdown_table(methods, rows))


def markdown_table(methods, rows) -> str:
    names = [config.rsplit("/", 1)[-1].removesuffix(".yaml").removesuffix("_arch") for config in rows]
    lines = ["| method | config | " + " | ".join(names) + " |",
             "|---|---|" + "---:|" * len(names),
             "| (base model) | | " + " | ".join(f"{total:,}" for total, _ in rows.values()) + " |"]
    for i, (name, conf) in enumerate(methods):
        cells = [f"{c[i]['trainable']:,} ({100 * c[i]['trainable'] / total:.2f} %, {c[i]['layers']})"
                 for total, c in rows.values()]
        lines.append(f"| {name} | {json.dumps(conf)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
