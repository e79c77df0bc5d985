"""Write the result files of one or more experiment directories: the rows of
``espnet_peft.results.scan.collect`` as ``RESULTS.md``, ``results.csv`` and
``results.tex`` (``espnet_peft.results.tables``), every plot they support under
``plots/`` (``espnet_peft.results.plots``), and the dev-set choice of configurations,
``SELECTION.md`` and ``selection.json`` (``espnet_peft.results.selection``). A file whose content did not change is left
untouched, so a re-run of a finished recipe changes nothing.
``espnet_peft.bin.collect_results`` is the command line.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import List, Sequence

from espnet_peft.core.atomic import write_if_changed
from espnet_peft.methods import catalog
from espnet_peft.results import selection, tables
from espnet_peft.results.ranks import find_rank_files, load_ranks
from espnet_peft.results.scan import collect, read_json
from espnet_peft.results.schema import MISSING, Row


def write_tables(rows: Sequence[Row], out_dir) -> Path:
    """RESULTS.md, results.csv and results.tex; returns the markdown file."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_if_changed(out_dir / "results.csv", tables.csv_text(rows))
    write_if_changed(out_dir / "results.tex", tables.latex(rows))
    return write_if_changed(out_dir / "RESULTS.md", tables.markdown(rows))


def write_selection(rows: Sequence[Row], out_dir) -> List[Path]:
    """SELECTION.md (every configuration, its dev error rates and score) and
    selection.json (the chosen configurations); returns both files."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    configs = selection.select(rows)
    return [write_if_changed(out_dir / "SELECTION.md", selection.markdown(configs)),
            write_if_changed(out_dir / "selection.json", selection.json_text(configs))]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "_", text).strip("_")


def _rank_inputs(exp_dirs: Sequence[Path], extra: Sequence[str]):
    out = []
    for path in [p for d in exp_dirs for p in find_rank_files(d)] + [Path(p) for p in extra]:
        run = read_json(path.parent / "run.json") or {}
        domain = run.get("domain") or ""
        out.append((domain, f"target {domain}" if domain else path.stem, load_ranks(path)))
    # per target domain, the methods' panels next to each other in catalog order
    out.sort(key=lambda dnd: (dnd[0], catalog.order_key(dnd[2]["method"])))
    return [(name, data) for _, name, data in out]


def write_plots(rows: Sequence[Row], out_dir, exp_dirs: Sequence[Path] = (),
                ranks: Sequence[str] = ()) -> List[Path]:
    """Every plot that the rows (and rank files) support, under ``<out_dir>/plots``."""
    from espnet_peft.results import plots  # matplotlib: only when drawing
    from espnet_peft.results.curves import read_curves

    plot_dir = Path(out_dir) / "plots"
    models = list(dict.fromkeys(str(r["model"]) for r in rows))
    written: List[Path] = []
    for model in models:
        mrows = [r for r in rows if r["model"] == model]
        prefix = "" if len(models) == 1 else f"{_slug(model)}_"
        title = model if len(models) > 1 else ""
        curves = [(r, read_curves(Path(r["exp_dir"]) / "train.log")) for r in mrows
                  if r["method"] != catalog.ZERO_SHOT and r["status"] != MISSING]
        drawn = [("wer_vs_params", plots.wer_vs_params(mrows, plot_dir / f"{prefix}wer_vs_params", title)),
                 ("learning_vs_forgetting",
                  plots.learning_vs_forgetting(mrows, plot_dir / f"{prefix}learning_vs_forgetting", title))]
        drawn += [(name, plots.hyperparameter_sweep(mrows, method, plot_dir / f"{prefix}{name}", title))
                  for method, name in plots.sweep_plots()]
        drawn += [("training_curves", plots.training_curves(curves, plot_dir / f"{prefix}training_curves", title))]
        for name, paths in drawn:
            if paths:
                written += paths
            else:
                logging.info("%s: nothing to draw for %s", name, model)
    rank_data = _rank_inputs(exp_dirs, ranks)
    if rank_data:
        written += plots.rank_heatmap(rank_data, plot_dir / "rank_heatmap") or []
    return written


def collect_all(exp_dirs: Sequence[str], labels: Sequence[str] = ()) -> List[Row]:
    if labels and len(labels) != len(exp_dirs):
        raise SystemExit(f"--label given {len(labels)} times for {len(exp_dirs)} --exp_dir: give one per directory")
    rows = []
    for i, exp_dir in enumerate(exp_dirs):
        rows += collect(exp_dir, labels[i] if labels else None)
    return rows
