"""Train-step cost of each adapter method on an OWSM-v3.1-base-shaped model.

    python -m espnet_peft.bin.benchmark --rounds 5 --out exp/benchmark

Builds the S2T model from ``egs2/TEMPLATE/peft1/conf/owsm_v3.1_base_arch.yaml`` (101M
parameters, random weights, nothing downloaded), feeds one fixed synthetic batch (4 x 10 s
of audio, 50-token targets) and times a full training step (forward, backward, AdamW)
for every configuration:

- ``full``: every parameter trains;
- ``floor``: everything frozen except one scalar that scales the encoder input, which
  forces the backward pass through all activations: no adapter touching every block can
  be cheaper;
- our methods (LoRA/DoRA/PiSSA r=32, SSVD/SSVD-O k=40 %, S2-LoRA r=32) on all linear
  layers of the encoder and decoder blocks;
- HF peft's LoRA, DoRA and PiSSA, and ESPnet's built-in (loralib) LoRA, on the same layers
  (when peft / loralib are installed).

Configurations run interleaved in a random order each round, after one warm-up step
each; the report gives per-configuration medians and the median over rounds of the
per-round ratio to ``floor`` and to our ``lora`` (robust to a noisy machine), plus the
adapter set-up time. Peak memory: CUDA max allocated per configuration on a GPU; on the
CPU, the peak RSS a training step adds above the loaded (and warmed-up) model (Linux:
free heap returned to the OS, peak mark reset, ``VmHWM - VmRSS``).

``--plain`` adds each of our methods once more with the fused low-rank node off
(``<method>_plain``: the plain autograd expression, see ``espnet_peft/ops/fused.py``);
``--svd_cache DIR`` also times PiSSA/SSVD/SSVD-O set-up with the SVD disk cache filled.
``--inference`` also times a forward pass without gradients (eval mode, same batch) of
the frozen base model, of each of our methods as trained (adapter paths active) and
after ``merge_adapters`` (weights folded in), interleaved over the same rounds, and
reports their ratios to the base. Output: markdown tables on stdout and
``benchmark.json`` / ``benchmark.md`` in ``--out``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from espnet_peft.integration.benchmark import PLAIN, markdown, run


def main(cmd=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--tokens", type=int, default=50)
    parser.add_argument("--configs", default="", help="comma-separated subset (default: all)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", default=None, help="directory for benchmark.json / benchmark.md")
    parser.add_argument("--plain", action="store_true",
                        help=f"also run each of our methods with the fused node off (<method>{PLAIN})")
    parser.add_argument("--svd_cache", default=None,
                        help="also time PiSSA/SSVD/SSVD-O set-up with the SVD disk cache filled, "
                             "using this (scratch) directory")
    parser.add_argument("--inference", action="store_true",
                        help="also time no-grad forward passes: base, unmerged and merged adapters")
    args = parser.parse_args(cmd)
    results = run(args)
    table = markdown(results)
    print(table)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "benchmark.json").write_text(json.dumps(results, indent=1) + "\n")
        (out / "benchmark.md").write_text(table + "\n")


if __name__ == "__main__":
    main()
