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
Markdown table, a column per config (docs/reproducing.md's table per model size). ``--targets``
sets ``target_modules`` of every method that takes Linear targets, keeping per model the
patterns its architecture has (E-Branchformer's cgMLP projections on OWSM, not on OWLS's
Transformer encoder).
"""

import argparse
import json
import logging


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
    from espnet_peft.core.param_counts import count_method, targets_present, with_targets
    from espnet_peft.integration.arch import build_base

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
