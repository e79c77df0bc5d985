"""Experiment directories as peft.sh and ESPnet leave them (run.json, train.yaml,
train.log, peft_summary.json, decode_<set>/score.json), for the result and selection
tests; no ESPnet runs."""

import json
from pathlib import Path

import yaml

BASE_PARAMS = 3_000_000
ESPNET_EPOCH = ("[vm] 2026-11-25 16:13:20,267 (trainer:394) INFO: {e}epoch results: [train] iter_time=0.009, "
                "loss_ctc={tl:.3f}, acc=0.682, loss={tl:.3f}, time=2.88 seconds, total_count=13, [valid] "
                "loss_ctc={vl:.3f}, cer=0.395, wer=0.983, loss={vl:.3f}, time=0.22 seconds, total_count=2")


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def write_score(decode_dir: Path, wer, ci=None) -> Path:
    """score.json as stage 8 writes it; without ``ci`` as it did before intervals."""
    score = {"wer": wer, "cer": wer / 2}
    if ci is not None:
        score.update(ci95=list(ci), bootstrap={"unit": "utterance", "units": 100, "resamples": 1000, "seed": 0})
    return write(decode_dir / "score.json", json.dumps(score))


def make_run(exp: Path, domain, method, adapter_conf=None, lr=0.003, trainable=None, wers=None,
             epochs=3, log_tail="", source="adult"):
    """One adaptation run; ``trainable=None`` = no summary (unfinished); ``wers``:
    {set: WER or (WER, (lo, hi))}, one scored decoding per set."""
    conf = {"use_adapter": method != "full", "adapter": method, "adapter_conf": adapter_conf or {},
            "optim_conf": {"lr": lr}}
    tag = "_".join([method] + [f"{k}{v}".replace(".", "p") for k, v in (adapter_conf or {}).items()])
    d = exp / f"adapt_{domain}_{tag}"
    write(d / "run.json", json.dumps({"role": "adapt", "domain": domain, "method": method, "tag": tag,
                                      "test_sets": {domain: f"{domain}_test", "source": f"{source}_test"}}))
    write(d / "train.yaml", yaml.safe_dump(conf))
    log = [ESPNET_EPOCH.format(e=e, tl=20 / e, vl=25 / e) for e in range(1, epochs + 1)]
    write(d / "train.log", "\n".join(log + [log_tail]) + "\n")
    if trainable is not None:
        write(d / "peft_summary.json", json.dumps({"method": method, "trainable_params": trainable,
                                                   "base_params": BASE_PARAMS, "train_wall_s": 30.0,
                                                   "peak_cpu_rss_mb": 1200.0}))
    for test, wer in (wers or {}).items():
        wer, ci = wer if isinstance(wer, tuple) else (wer, None)
        write_score(d / f"decode_{test}", wer, ci)
    return d
