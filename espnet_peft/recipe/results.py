"""Stage 9: collect every run of a recipe into ``RESULTS.md`` and ``results.csv``.

Each experiment directory that the stage script made holds ``run.json``
({"role": "zero_shot"|"adapt", "domain", "method", "tag", "test_sets": {...}}),
ESPnet's training output with our ``peft_summary.json``, and ``decode_<set>/score.json``
from scoring. One row per (target domain, method): trainable parameters (count and %
of the base model), target-domain WER (learning), source-domain WER (forgetting),
training time and peak memory.

    python -m espnet_peft.recipe.results --exp_dir exp
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
from pathlib import Path
from typing import Dict, List, Optional

COLUMNS = ["domain", "method", "tag", "trainable_params", "trainable_pct", "target_wer",
           "source_wer", "train_time_s", "peak_mem_mb", "exp_dir"]
METHOD_ORDER = ["zero_shot", "full", "lora", "dora", "pissa", "ssvd", "ssvd_o", "s2lora"]


def _json(path: Path) -> Optional[dict]:
    return json.loads(path.read_text()) if path.is_file() else None


def _wer(exp: Path, test_set: Optional[str]) -> Optional[float]:
    if not test_set:
        return None
    score = _json(exp / f"decode_{test_set}" / "score.json")
    return score["wer"] if score else None


def collect(exp_dir) -> List[Dict[str, object]]:
    exp_dir = Path(exp_dir)
    runs = [(p.parent, json.loads(p.read_text())) for p in sorted(exp_dir.glob("*/run.json"))]
    summaries = {d: _json(d / "peft_summary.json") for d, _ in runs}
    base_params = next((s["base_params"] for s in summaries.values() if s), None)
    rows = []
    for d, run in runs:
        # The zero-shot row decodes the base model: nothing was trained for it.
        summary = {} if run["role"] == "zero_shot" else (summaries[d] or {})
        domains = run.get("domains") or [run.get("domain")]
        for domain in domains:
            tests = run["test_sets"]
            trainable = summary.get("trainable_params", 0 if run["role"] == "zero_shot" else None)
            rows.append({
                "domain": domain,
                "method": run["method"],
                "tag": run.get("tag", ""),
                "trainable_params": trainable,
                "trainable_pct": (round(100 * trainable / base_params, 3)
                                  if trainable is not None and base_params else None),
                "target_wer": _wer(d, tests.get(domain)),
                "source_wer": _wer(d, tests.get("source")),
                "train_time_s": summary.get("train_wall_s"),
                "peak_mem_mb": summary.get("peak_cuda_mb") or summary.get("peak_cpu_rss_mb"),
                "exp_dir": d.name,
            })

    def order(row):
        m = row["method"]
        return (str(row["domain"]), METHOD_ORDER.index(m) if m in METHOD_ORDER else 99, row["tag"])
    return sorted(rows, key=order)


def _cell(value, fmt="{}"):
    return "–" if value is None else fmt.format(value)


def write_tables(rows: List[Dict[str, object]], exp_dir) -> Path:
    exp_dir = Path(exp_dir)
    with (exp_dir / "results.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    lines = ["# Results", "",
             "WER (%) on the target domain's test set (learning) and on the source domain's",
             "test set (forgetting). Trainable parameters as a count and as % of the base model;",
             "time is the training wall-clock time, memory the peak (GPU if used, else CPU RSS).", ""]
    for domain in dict.fromkeys(r["domain"] for r in rows):
        lines += [f"## {domain}", "",
                  "| method | config | trainable | % | target WER | source WER | train time (s) | peak mem (MB) |",
                  "|---|---|---:|---:|---:|---:|---:|---:|"]
        for r in (r for r in rows if r["domain"] == domain):
            lines.append("| {} | {} | {} | {} | {} | {} | {} | {} |".format(
                r["method"], r["tag"] or "–", _cell(r["trainable_params"], "{:,}"),
                _cell(r["trainable_pct"], "{:.2f}"), _cell(r["target_wer"], "{:.1f}"),
                _cell(r["source_wer"], "{:.1f}"), _cell(r["train_time_s"], "{:.0f}"),
                _cell(r["peak_mem_mb"], "{:.0f}")))
        lines.append("")
    out = exp_dir / "RESULTS.md"
    out.write_text("\n".join(lines))
    return out


def main(cmd=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--exp_dir", required=True)
    args = parser.parse_args(cmd)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s results: %(message)s")
    rows = collect(args.exp_dir)
    if not rows:
        raise SystemExit(f"no runs (*/run.json) under {args.exp_dir}: run stages 5-8 first")
    out = write_tables(rows, args.exp_dir)
    print(out.read_text())
    print(f"results table: {out.resolve()}")


if __name__ == "__main__":
    main()
