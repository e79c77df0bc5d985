"""Train-step and inference cost of each adapter method on an OWSM-v3.1-base-shaped model
(what ``python -m espnet_peft.bin.benchmark`` runs and reports; see there)."""

from __future__ import annotations

import contextlib
import copy
import platform
import random
import statistics
import time
from pathlib import Path
from typing import Optional

import torch

import espnet_peft
from espnet_peft.integration.arch import build_base
from espnet_peft.methods.catalog import BENCHMARK_REFERENCE, FULL, cards

ARCH = Path(__file__).resolve().parents[2] / "egs2/TEMPLATE/peft1/conf/owsm_v3.1_base_arch.yaml"
TARGETS = ["linear_q", "linear_k", "linear_v", "linear_out", "w_1", "w_2",
           "channel_proj1.0", "channel_proj2", "merge_proj"]
# Our methods with a benchmark entry in their catalog card, and that adapter_conf.
OURS = {name: card.benchmark for name, card in cards().items() if card.benchmark is not None}


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
        for _, layer in espnet_peft.adapter_layers(model):  # SSVD bases now, not in the first step
            layer._ensure_prepared()
    return setup


SVD_METHODS = tuple(name for name, card in cards().items() if card.svd_init)


def cached_setup_seconds(base, setup, cache_dir: Path) -> float:
    """Set-up time of an SVD-based method when ``cache_dir`` already holds its triplets
    (espnet_peft.ops.svd's disk cache): fill the cache with one set-up, time a second."""
    import os
    from espnet_peft.ops.svd import CACHE_ENV

    previous = os.environ.get(CACHE_ENV)
    os.environ[CACHE_ENV] = str(cache_dir)
    try:
        setup(copy.deepcopy(base))
        model = copy.deepcopy(base)
        t0 = time.perf_counter()
        setup(model)
        return time.perf_counter() - t0
    finally:
        if previous is None:
            del os.environ[CACHE_ENV]
        else:
            os.environ[CACHE_ENV] = previous


def setup_peft(kind):
    """HF peft's counterpart of our ``kind`` (its card's ``hf_peft`` options), same r/alpha."""
    def setup(model):
        import peft
        _freeze(model)
        ours = OURS[kind]
        config = peft.LoraConfig(r=ours["r"], lora_alpha=ours["alpha"], target_modules=TARGETS,
                                 **cards()[kind].hf_peft)
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


PLAIN = "_plain"  # suffix: the same method with the fused node off (espnet_peft.ops.fused)


@contextlib.contextmanager
def fused_paths(enabled: bool):
    from espnet_peft.ops import fused

    previous, fused.ENABLED = fused.ENABLED, enabled
    try:
        yield
    finally:
        fused.ENABLED = previous


def configurations(plain: bool = False):
    configs = {FULL: setup_full, "floor": setup_floor}
    configs.update({m: setup_ours(m) for m in OURS})
    if plain:
        configs.update({m + PLAIN: setup_ours(m) for m in OURS})
    try:
        import peft  # noqa: F401
        configs.update({f"peft_{k}": setup_peft(k) for k, card in cards().items()
                        if card.hf_peft is not None and k in OURS})
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


def cpu_step_peak_mb(model, optimizer, batch, device) -> Optional[float]:
    """Peak RSS (MB) one training step adds above what is resident before it (Linux):
    free heap memory is handed back to the OS first, the peak-RSS mark is reset, then
    ``VmHWM - VmRSS`` after the step (``espnet_peft.core.memory``). None where the kernel or
    libc does not support this."""
    from espnet_peft.core import memory

    if not memory.reset_peak():
        return None
    before = memory.rss_mb()
    train_step(model, optimizer, batch, device)
    return memory.peak_rss_mb() - before


@torch.no_grad()
def forward_time(model, batch, device) -> float:
    batch = {k: v.clone().to(device) for k, v in batch.items()}
    t0 = time.perf_counter()
    model(**batch)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def run(args) -> dict:
    """Set up every configuration, time it over ``args.rounds`` interleaved rounds and
    return the results (what benchmark.json holds)."""

    device = torch.device(args.device)
    torch.manual_seed(0)
    base = build_base("s2t", str(ARCH)).train()
    n_base = sum(p.numel() for p in base.parameters())
    batch = make_batch(base, args.batch, args.seconds, args.tokens)
    configs = configurations(plain=args.plain)
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
        with fused_paths(not name.endswith(PLAIN)):
            train_step(model, optimizer, batch, device)  # warm-up
            runs[name] = {"model": model, "opt": optimizer, "setup_s": setup_s, "times": [],
                          "trainable": sum(p.numel() for p in params),
                          "peak_mb": (torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else None),
                          "cpu_step_peak_mb": (cpu_step_peak_mb(model, optimizer, batch, device)
                                               if device.type == "cpu" else None)}
        if args.svd_cache and name in SVD_METHODS:
            runs[name]["setup_cached_s"] = cached_setup_seconds(base, setup, Path(args.svd_cache) / name)
        print(f"set up {name}: {runs[name]['trainable']:,} trainable, {setup_s:.2f} s", flush=True)
        if device.type == "cuda":
            model.cpu()
            torch.cuda.empty_cache()

    # Inference: the base, and each of our trained models with its adapter paths active
    # and, right after, merged (then unmerged again for the next round).
    infer = {"base": base} if args.inference else {}
    infer.update({n: runs[n]["model"] for n in runs if n in OURS and args.inference})
    infer_times = {n: [] for n in infer}
    infer_times.update({f"{n}_merged": [] for n in infer if n != "base"})

    def time_inference(name: str) -> None:
        model = infer[name].to(device).eval()
        infer_times[name].append(forward_time(model, batch, device))
        if name != "base":
            espnet_peft.merge_adapters(model)
            infer_times[f"{name}_merged"].append(forward_time(model, batch, device))
            espnet_peft.unmerge_adapters(model)
        model.train()
        if device.type == "cuda":
            model.cpu()

    for name in infer:  # warm-up
        time_inference(name)
    for times in infer_times.values():
        times.clear()

    order = list(runs)
    for r in range(args.rounds):
        random.Random(r).shuffle(order)
        for name in order:
            run = runs[name]
            run["model"].to(device)
            with fused_paths(not name.endswith(PLAIN)):
                t0 = time.perf_counter()
                train_step(run["model"], run["opt"], batch, device)
                run["times"].append(time.perf_counter() - t0)
            if device.type == "cuda":
                run["model"].cpu()
        infer_order = list(infer)
        random.Random(1000 + r).shuffle(infer_order)
        for name in infer_order:
            time_inference(name)
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
            "setup_cached_s": round(run["setup_cached_s"], 3) if "setup_cached_s" in run else None,
            "step_s_median": round(statistics.median(run["times"]), 4),
            "vs_floor": ratio(name, "floor"), "vs_our_lora": ratio(name, BENCHMARK_REFERENCE),
            "peak_cuda_mb": run["peak_mb"],
            "cpu_step_peak_mb": None if run["cpu_step_peak_mb"] is None else round(run["cpu_step_peak_mb"], 1)}
            for name, run in runs.items()},
        "inference": {name: {
            "forward_s_median": round(statistics.median(t), 4),
            "vs_base": statistics.median(a / b for a, b in zip(t, infer_times["base"]))}
            for name, t in infer_times.items()},
    }
    return results


def markdown(results: dict) -> str:
    """benchmark.md: the step table, and the inference table when timed."""
    rounds = results["rounds"]
    lines = [f"Train step (forward + backward + AdamW), {results['batch']}, on {results['device']} "
             f"({results['threads']} threads, torch {results['torch']}), {rounds} rounds; "
             "ratios are medians of per-round ratios.", "",
             "| config | trainable | set-up (s) | set-up, SVD cached (s) | step (s) | × floor | × our LoRA "
             "| peak CUDA (MB) | step peak RSS (MB) | RSS × floor |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    fmt = lambda v, f: "–" if v is None else f.format(v)  # noqa: E731
    floor_rss = results["configs"].get("floor", {}).get("cpu_step_peak_mb")
    for name, c in results["configs"].items():
        rss = c["cpu_step_peak_mb"]
        lines.append(f"| {name} | {c['trainable']:,} | {c['setup_s']:.2f} | {fmt(c['setup_cached_s'], '{:.2f}')} "
                     f"| {c['step_s_median']:.3f} | "
                     f"{fmt(c['vs_floor'], '{:.3f}')} | {fmt(c['vs_our_lora'], '{:.3f}')} | "
                     f"{fmt(c['peak_cuda_mb'], '{:.0f}')} | {fmt(rss, '{:.0f}')} | "
                     f"{fmt(rss / floor_rss if rss and floor_rss else None, '{:.3f}')} |")
    if results["inference"]:
        lines += ["", "No-grad forward pass (eval mode, same batch); ratios are medians of per-round ratios.", "",
                  "| model | forward (s) | × base |", "|---|---:|---:|"]
        for name, c in results["inference"].items():
            lines.append(f"| {name} | {c['forward_s_median']:.3f} | {c['vs_base']:.3f} |")
    return "\n".join(lines)
