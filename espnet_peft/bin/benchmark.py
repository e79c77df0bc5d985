"""Train-step cost of each adapter method on an OWSM-v3.1-base-shaped model.

    python -m espnet_peft.bin.benchmark --rounds 5 --out exp/benchmark

Builds the S2T model from ``egs2/TEMPLATE/peft1/conf/owsm_v3.1_base_arch.yaml`` (102M
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
adapter set-up time. Peak memory: CUDA max allocated per configuration on a GPU; on CPU
it is not separable within one process and is not reported. Output: a markdown table on
stdout and ``benchmark.json`` / ``benchmark.md`` in ``--out``.
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import random
import statistics
import time
from pathlib import Path

import torch

ARCH = Path(__file__).resolve().parents[2] / "egs2/TEMPLATE/peft1/conf/owsm_v3.1_base_arch.yaml"
TARGETS = ["linear_q", "linear_k", "linear_v", "linear_out", "w_1", "w_2",
           "channel_proj1.0", "channel_proj2", "merge_proj"]
OURS = {
    "lora": {"r": 32, "alpha": 64},
    "dora": {"r": 32, "alpha": 64},
    "pissa": {"r": 32, "alpha": 32},
    "ssvd": {"k_fraction": 0.4},
    "ssvd_o": {"k_fraction": 0.4, "budget_ratio": 0.5},
    "s2lora": {"r": 32, "alpha": 64},
}


def make_batch(model, batch: int, seconds: float, tokens: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    vocab = model.vocab_size
    n = int(16000 * seconds)
    text = torch.randint(10, vocab - 10, (batch, tokens), generator=g)
    prev = torch.full((batch, 1), model.na, dtype=torch.long)
    return {
        "speech": 0.1 * torch.randn(batch, n, generator=g),
        "speech_lengths": torch.full((batch,), n, dtype=torch.long),
        "text": text, "text_lengths": torch.full((batch,), tokens, dtype=torch.long),
        "text_prev": prev, "text_prev_lengths": torch.ones(batch, dtype=torch.long),
        "text_ctc": text.clone(), "text_ctc_lengths": torch.full((batch,), tokens, dtype=torch.long),
    }


def _freeze(model):
    for p in model.parameters():
        p.requires_grad = False


def setup_full(model):
    for p in model.parameters():
        p.requires_grad = True


def setup_floor(model):
    _freeze(model)
    model.register_parameter("floor_scale", torch.nn.Parameter(torch.zeros(())))

    def scale_input(module, args):
        return (args[0] * (1 + model.floor_scale),) + tuple(args[1:])
    model.encoder.register_forward_pre_hook(scale_input)


def setup_ours(method):
    def setup(model):
        import espnet_peft
        _freeze(model)
        espnet_peft.inject_adapters(model, method, target_modules=TARGETS, **OURS[method])
        espnet_peft.mark_only_adapters_trainable(model)
        espnet_peft.initialize_adapters(model)
    return setup


def setup_peft(kind):
    def setup(model):
        import peft
        _freeze(model)
        extra = {"use_dora": True} if kind == "dora" else {}
        if kind == "pissa":
            extra = {"init_lora_weights": "pissa"}
        alpha = 32 if kind == "pissa" else 64
        config = peft.LoraConfig(r=32, lora_alpha=alpha, target_modules=TARGETS, **extra)
        peft.inject_adapter_in_model(config, model)
        for name, p in model.named_parameters():
            p.requires_grad = "lora_" in name
    return setup


def setup_espnet_lora(model):
    from espnet2.layers.create_adapter_fn import create_lora_adapter
    _freeze(model)
    create_lora_adapter(model=model, rank=32, alpha=64, target_modules=TARGETS)
    for name, p in model.named_parameters():
        p.requires_grad = "lora_" in name


def configurations():
    configs = {"full": setup_full, "floor": setup_floor}
    configs.update({m: setup_ours(m) for m in OURS})
    try:
        import peft  # noqa: F401
        configs.update({f"peft_{k}": setup_peft(k) for k in ("lora", "dora", "pissa")})
    except ImportError:
        pass
    try:
        import loralib  # noqa: F401
        configs["espnet_lora"] = setup_espnet_lora
    except ImportError:
        pass
    return configs


def train_step(model, optimizer, batch, device):
    batch = {k: v.clone().to(device) for k, v in batch.items()}  # S2T's forward edits text in place
    optimizer.zero_grad(set_to_none=True)
    loss = model(**batch)[0]
    loss.backward()
    optimizer.step()
    if device.type == "cuda":
        torch.cuda.synchronize()


def main(cmd=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--tokens", type=int, default=50)
    parser.add_argument("--configs", default="", help="comma-separated subset (default: all)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", default=None, help="directory for benchmark.json / benchmark.md")
    args = parser.parse_args(cmd)

    import espnet_peft  # noqa: F401
    from espnet_peft.bin.count_params import build_base

    device = torch.device(args.device)
    torch.manual_seed(0)
    base = build_base("s2t", str(ARCH)).train()
    n_base = sum(p.numel() for p in base.parameters())
    batch = make_batch(base, args.batch, args.seconds, args.tokens)
    configs = configurations()
    if args.configs:
        configs = {k: v for k, v in configs.items() if k in args.configs.split(",")}

    runs = {}
    for name, setup in configs.items():
        model = copy.deepcopy(base)
        t0 = time.perf_counter()
        setup(model)
        setup_s = time.perf_counter() - t0
        model.to(device).train()
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=1e-5)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        train_step(model, optimizer, batch, device)  # warm-up
        runs[name] = {"model": model, "opt": optimizer, "setup_s": setup_s, "times": [],
                      "trainable": sum(p.numel() for p in params),
                      "peak_mb": (torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else None)}
        print(f"set up {name}: {runs[name]['trainable']:,} trainable, {setup_s:.2f} s", flush=True)
        if device.type == "cuda":
            model.cpu()
            torch.cuda.empty_cache()

    order = list(runs)
    for r in range(args.rounds):
        random.Random(r).shuffle(order)
        for name in order:
            run = runs[name]
            run["model"].to(device)
            t0 = time.perf_counter()
            train_step(run["model"], run["opt"], batch, device)
            run["times"].append(time.perf_counter() - t0)
            if device.type == "cuda":
                run["model"].cpu()
        print(f"round {r + 1}/{args.rounds} done", flush=True)

    def ratio(name, ref):
        if ref not in runs:
            return None
        return statistics.median(a / b for a, b in zip(runs[name]["times"], runs[ref]["times"]))

    results = {
        "machine": platform.processor() or platform.machine(), "device": str(device),
        "torch": torch.__version__, "threads": torch.get_num_threads(),
        "batch": f"{args.batch} x {args.seconds:g} s audio, {args.tokens} tokens",
        "base_params": n_base, "rounds": args.rounds,
        "configs": {name: {
            "trainable": run["trainable"], "setup_s": round(run["setup_s"], 3),
            "step_s_median": round(statistics.median(run["times"]), 4),
            "vs_floor": ratio(name, "floor"), "vs_our_lora": ratio(name, "lora"),
            "peak_cuda_mb": run["peak_mb"]} for name, run in runs.items()},
    }
    lines = [f"Train step (forward + backward + AdamW), {results['batch']}, on {results['device']} "
             f"({results['threads']} threads, torch {results['torch']}), {args.rounds} rounds; "
             "ratios are medians of per-round ratios.", "",
             "| config | trainable | set-up (s) | step (s) | × floor | × our LoRA | peak CUDA (MB) |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    fmt = lambda v, f: "–" if v is None else f.format(v)  # noqa: E731
    for name, c in results["configs"].items():
        lines.append(f"| {name} | {c['trainable']:,} | {c['setup_s']:.2f} | {c['step_s_median']:.3f} | "
                     f"{fmt(c['vs_floor'], '{:.3f}')} | {fmt(c['vs_our_lora'], '{:.3f}')} | "
                     f"{fmt(c['peak_cuda_mb'], '{:.0f}')} |")
    table = "\n".join(lines)
    print(table)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "benchmark.json").write_text(json.dumps(results, indent=1) + "\n")
        (out / "benchmark.md").write_text(table + "\n")


if __name__ == "__main__":
    main()
