"""Collect experiment directories into paper-layout tables and plots (recipe stage 9).

    python -m espnet_peft.bin.collect_results --exp_dir exp
    python -m espnet_peft.bin.collect_results --exp_dir exp/owsm_0.1b --label "OWSM v3.1 0.1B" \
        --exp_dir exp/owsm_1b --label "OWSM v3.1 1B" --out_dir exp/paper

One experiment directory holds the runs on one base model (a table per target domain).
Writes into ``--out_dir`` (default: the first ``--exp_dir``): ``RESULTS.md``,
``results.csv``, ``results.tex`` (booktabs) and ``plots/<name>.{png,pdf}``:
``wer_vs_params`` (efficiency frontier), ``learning_vs_forgetting``,
``ssvd_o_budget`` (only with two or more SSVD-O budget ratios), ``training_curves``
and ``rank_heatmap`` (from ``<exp>/*/ranks.json`` and ``--ranks`` files written by
``espnet_peft.bin.dump_ranks``). With several models, plot names start with the
model's label. Failed, unfinished, undecoded and missing runs appear in the tables with
their status and the log to read; files whose content did not change are not rewritten.
"""

from __future__ import annotations

import argparse
import logging
import re
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from espnet_peft.results.scan import MISSING, collect, read_json


def write_if_changed(path: Path, text: str) -> Path:
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    return path


def write_tables(rows: Sequence[Dict[str, object]], out_dir) -> Path:
    """RESULTS.md, results.csv and results.tex; returns the markdown file."""
    from espnet_peft.results import tables

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_if_changed(out_dir / "results.csv", tables.csv_text(rows))
    write_if_changed(out_dir / "results.tex", tables.latex(rows))
    return write_if_changed(out_dir / "RESULTS.md", tables.markdown(rows))


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "_", text).strip("_")


def _rank_inputs(exp_dirs: Sequence[Path], extra: Sequence[str]):
    from espnet_peft.results.ranks import find_rank_files, load_ranks

    out = []
    for path in [p for d in exp_dirs for p in find_rank_files(d)] + [Path(p) for p in extra]:
        run = read_json(path.parent / "run.json") or {}
        domain = run.get("domain") or ""
        out.append((domain, f"target {domain}" if domain else path.stem, load_ranks(path)))
    # per target domain, S2-LoRA's panel first and AdaLoRA's next to it
    out.sort(key=lambda dnd: (dnd[0], dnd[2]["method"] != "s2lora"))
    return [(name, data) for _, name, data in out]


def write_plots(rows: Sequence[Dict[str, object]], out_dir, exp_dirs: Sequence[Path] = (),
                ranks: Sequence[str] = ()) -> List[Path]:
    """Every plot that the rows (and rank files) support, under ``<out_dir>/plots``."""
    from espnet_peft.results import plots
    from espnet_peft.results.curves import read_curves

    plot_dir = Path(out_dir) / "plots"
    models = list(dict.fromkeys(str(r["model"]) for r in rows))
    written: List[Path] = []
    for model in models:
        mrows = [r for r in rows if r["model"] == model]
        prefix = "" if len(models) == 1 else f"{_slug(model)}_"
        title = model if len(models) > 1 else ""
        curves = [(r, read_curves(Path(r["exp_dir"]) / "train.log")) for r in mrows
                  if r["method"] != "zero_shot" and r["status"] != MISSING]
        for name, paths in (
                ("wer_vs_params", plots.wer_vs_params(mrows, plot_dir / f"{prefix}wer_vs_params", title)),
                ("learning_vs_forgetting",
                 plots.learning_vs_forgetting(mrows, plot_dir / f"{prefix}learning_vs_forgetting", title)),
                ("ssvd_o_budget", plots.budget_sweep(mrows, plot_dir / f"{prefix}ssvd_o_budget", title)),
                ("training_curves", plots.training_curves(curves, plot_dir / f"{prefix}training_curves", title))):
            if paths:
                written += paths
            else:
                logging.info("%s: nothing to draw for %s", name, model)
    rank_data = _rank_inputs(exp_dirs, ranks)
    if rank_data:
        written += plots.rank_heatmap(rank_data, plot_dir / "rank_heatmap") or []
    return written


def collect_all(exp_dirs: Sequence[str], labels: Sequence[str] = ()) -> List[Dict[str, object]]:
    if labels and len(labels) != len(exp_dirs):
        raise SystemExit(f"--label given {len(labels)} times for {len(exp_dirs)} --exp_dir: give one per directory")
    rows = []
    for i, exp_dir in enumerate(exp_dirs):
        rows += collect(exp_dir, labels[i] if labels else None)
    return rows


def main(cmd: Optional[Sequence[str]] = None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--exp_dir", action="append", required=True,
                        help="an experiment directory (one base model); repeat for several models")
    parser.add_argument("--label", action="append", default=[],
                        help="a model's name in the tables, one per --exp_dir (default: its base directory)")
    parser.add_argument("--out_dir", help="where tables and plots go (default: the first --exp_dir)")
    parser.add_argument("--ranks", action="append", default=[],
                        help="a dump_ranks JSON file for the rank heatmap (besides <exp>/*/ranks.json)")
    parser.add_argument("--no_plots", action="store_true", help="write the tables only")
    args = parser.parse_args(cmd)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s collect_results: %(message)s")
    rows = collect_all(args.exp_dir, args.label)
    if not rows:
        raise SystemExit(f"no runs (*/run.json) under {', '.join(args.exp_dir)}: run stages 5-8 first")
    out_dir = Path(args.out_dir or args.exp_dir[0])
    table = write_tables(rows, out_dir)
    plots = [] if args.no_plots else write_plots(rows, out_dir, [Path(d) for d in args.exp_dir], args.ranks)
    print(table.read_text(encoding="utf-8"))
    print(f"results table: {table.resolve()} (also results.csv, results.tex)")
    for path in plots:
        print(f"plot: {path}")


if __name__ == "__main__":
    main()
