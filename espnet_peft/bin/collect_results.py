"""Collect experiment directories into paper-layout tables and plots (recipe stage 9).

    python -m espnet_peft.bin.collect_results --exp_dir exp
    python -m espnet_peft.bin.collect_results --exp_dir exp/owsm_0.1b --label "OWSM v3.1 0.1B" \
        --exp_dir exp/owsm_1b --label "OWSM v3.1 1B" --out_dir exp/paper

One experiment directory holds the runs on one base model (a table per target domain).
Writes into ``--out_dir`` (default: the first ``--exp_dir``): ``RESULTS.md``,
``results.csv``, ``results.tex`` (booktabs) and ``plots/<name>.{png,pdf}``:
``wer_vs_params`` (efficiency frontier), ``learning_vs_forgetting``, a sweep plot per
method whose card names one (``ssvd_o_budget``: only with two or more SSVD-O budget
ratios), ``training_curves`` and ``rank_heatmap`` (from ``<exp>/*/ranks.json`` and
``--ranks`` files written by ``espnet_peft.bin.dump_ranks``). With several models, plot
names start with the model's label. Every error rate comes with its 95 % bootstrap interval
where its score.json has one (cells ``20.4 (18.1–22.9)``, ``<column>_lo``/``_hi`` in the
CSV, error bars in the plots), and no run is marked best unless its interval is disjoint
from the others'. Failed, unfinished, undecoded and missing runs appear in the tables with
their status and the log to read; files whose content did not change are not rewritten.
The writing is ``espnet_peft.results.writers``. Choosing a configuration per method on
the dev sets is ``espnet_peft.bin.select_configs``.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Optional, Sequence

from espnet_peft.results.writers import collect_all, write_plots, write_tables


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
