"""Export the adapter of an ESPnet checkpoint as a small, self-describing file.

    python -m espnet_peft.bin.export_adapter --task asr --config exp/ssvd/config.yaml \
        --model_file exp/ssvd/valid.acc.ave.pth --out exp/ssvd/adapter.safetensors

The ``.safetensors`` file holds the adapter tensors, the method, its config, the
targeted modules and a fingerprint of the base weights; ``<task>_inference`` accepts it
as ``--*_model_file`` (with the base from the config's init_param or
``--base_model_file``) and refuses a different base.
"""

import argparse
import logging


def main(cmd=None):
    from espnet_peft.bin._common import load_adapted_model, model_arguments

    parser = model_arguments(argparse.ArgumentParser(description=__doc__.split("\n\n")[0]))
    parser.add_argument("--out", required=True, help="output .safetensors path")
    args = parser.parse_args(cmd)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if not args.out.endswith(".safetensors"):
        raise SystemExit(f"--out must end with .safetensors, got {args.out}")

    import espnet_peft

    model, train_args = load_adapted_model(args)
    path = espnet_peft.save_adapter(model, args.out, extra_metadata={
        "task": args.task, "source_checkpoint": str(args.model_file)})
    trainable = sum(p.numel() for _, p in espnet_peft.adapter_parameters(model))
    logging.info("exported %s adapter (%d parameters) to %s", train_args.adapter, trainable, path)
    print(path)


if __name__ == "__main__":
    main()
