"""Trainable-parameter counts of adapter methods on an ESPnet model built from a config.

    python -m espnet_peft.bin.count_params --task s2t \
        --config egs2/TEMPLATE/peft1/conf/owsm_v3.1_base_arch.yaml \
        --method lora '{"r": 32, "alpha": 64}' --method ssvd '{"k_fraction": 0.4}'

Builds the architecture with random weights (nothing is downloaded), injects each method
in turn and prints a table: method, config, adapted layers, trainable parameters, their
share of the base model, and the size of the adapted model (the parameters its forward
uses: semiorth's factorisation makes it smaller, bottleneck adapters larger). Without ``token_list`` in the config, ``vocab_size``
(config key or ``--vocab_size``) sizes a placeholder vocabulary.
"""

import argparse
import copy
import json
import logging

import yaml


def build_base(task: str, config: str, vocab_size=None):
    from espnet_peft.espnet import task_class

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
    return task_cls.build_model(args)


def main(cmd=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", choices=["asr", "s2t"], default="s2t")
    parser.add_argument("--config", required=True)
    parser.add_argument("--vocab_size", type=int, default=None)
    parser.add_argument("--method", nargs=2, action="append", metavar=("NAME", "JSON_CONF"),
                        required=True)
    args = parser.parse_args(cmd)
    logging.basicConfig(level=logging.WARNING)

    import espnet_peft
    from espnet_peft.inject import adapted_model_size

    base = build_base(args.task, args.config, args.vocab_size)
    _, total = espnet_peft.count_parameters(base)
    print(f"base model: {total:,} parameters ({total / 1e6:.2f}M)")
    print(f"{'method':10} {'config':44} {'layers':>6} {'trainable':>12} {'% of base':>9} "
          f"{'model size':>12} {'size vs base':>12}")
    for name, conf_json in args.method:
        conf = json.loads(conf_json)
        model = copy.deepcopy(base)
        espnet_peft.inject_adapters(model, name, **conf)
        espnet_peft.mark_only_adapters_trainable(model)
        trainable, _ = espnet_peft.count_parameters(model)
        layers = sum(1 for _ in espnet_peft.adapter_layers(model))
        # Parameters the adapted model computes with (semiorth's factors replace W0).
        size = adapted_model_size(model)
        print(f"{name:10} {json.dumps(conf):44} {layers:6d} {trainable:12,d} {100 * trainable / total:8.3f}% "
              f"{size:12,d} {100 * (size - total) / total:+11.2f}%")


if __name__ == "__main__":
    main()
