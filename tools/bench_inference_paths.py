#!/usr/bin/env python3
"""Unmerged LoRA inference on the benchmark's OWSM-v3.1-base-shaped model: the frozen
base against LoRA r32 (all 126 block linears) through the rebuilt weight where
``espnet_peft.ops.fused`` picks it (its default) and through the low-rank path everywhere
(rebuilding disabled), plus the rebuild chosen more eagerly (margin 0.5). No-grad
forward passes of one batch (4 x 10 s), interleaved in a new random order each round;
reports the median over rounds of each per-round ratio to the base.

    tools/venv/bin/python tools/bench_inference_paths.py --rounds 20
"""

import argparse
import copy
import random
import statistics

import torch

import espnet_peft
from espnet_peft.ops import fused
from espnet_peft.integration.benchmark import ARCH, forward_time, make_batch, setup_ours
from espnet_peft.integration.arch import build_base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    torch.manual_seed(0)
    base = build_base("s2t", str(ARCH)).eval()
    batch = make_batch(base, 4, 10.0, 50)
    lora = copy.deepcopy(base)
    setup_ours("lora")(lora)
    with torch.no_grad():  # a trained-looking adapter (B = 0 would still cost the same)
        for _, p in espnet_peft.adapter_parameters(lora):
            p.normal_(0, 0.01)
    lora.eval()

    def forward_s(model) -> float:
        return forward_time(model, batch, torch.device("cpu"))

    rebuilt = []
    real = fused._rebuilt_no_grad
    fused._rebuilt_no_grad = lambda *a: rebuilt.append(tuple(a[1].shape)) or real(*a)
    forward_s(lora)
    fused._rebuilt_no_grad = real
    print(f"layers through the rebuilt weight: {len(rebuilt)} of 126 "
          f"(weight shapes {sorted(set(rebuilt))})")

    margins = {"base": None, "lora (default margin)": fused.REBUILD_MARGIN,
               "lora (low-rank path only)": float("inf"), "lora (margin 0.5)": 0.5}
    times = {name: [] for name in margins}
    for name in margins:  # warm-up
        forward_s(base)
    for r in range(args.rounds):
        order = list(margins)
        random.Random(r).shuffle(order)
        for name in order:
            if margins[name] is not None:
                fused.REBUILD_MARGIN = margins[name]
            times[name].append(forward_s(base if name == "base" else lora))
    print(f"{args.rounds} rounds, {torch.get_num_threads()} threads, torch {torch.__version__}")
    for name, t in times.items():
        ratio = statistics.median(a / b for a, b in zip(t, times["base"]))
        print(f"{name:28s} {statistics.median(t):.3f} s  x base {ratio:.3f}")


if __name__ == "__main__":
    main()
