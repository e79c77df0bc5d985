"""Choose each method's hyperparameter configuration on the dev sets (never the test sets).

    python -m espnet_peft.bin.select_configs --exp_dir exp
    python -m espnet_peft.bin.select_configs --exp_dir exp/owsm_0.1b --label "OWSM v3.1 0.1B" \
        --exp_dir exp/owsm_1b --label "OWSM v3.1 1B" --out_dir exp/paper

Scans the experiment directories as ``collect_results`` does. For each base model and
method, every run gets score = mean over the target domains of (target dev WER + source
dev WER) / 2, and the lowest is chosen (the full rule, with eligibility and ties, heads
``SELECTION.md``; ``espnet_peft.results.selection``). Needs the dev sets decoded
(``<exp>/decode_<domain>_dev``, ``decode_<source>_dev``). Writes into ``--out_dir``
(default: the first ``--exp_dir``) ``SELECTION.md`` (every configuration, its dev error
rates with their intervals, its score, the chosen mark) and ``selection.json`` (model ->
method -> the chosen run's tag, hyperparameters, score and dev error rates).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Optional, Sequence

from espnet_peft.results.writers import collect_all, write_selection


def main(cmd: Optional[Sequence[str]] = None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--exp_dir", action="append", required=True,
                        help="an experiment directory (one base model); repeat for several models")
    parser.add_argument("--label", action="append", default=[],
                        help="a model's name, one per --exp_dir (default: its base directory)")
    parser.add_argument("--out_dir", help="where SELECTION.md and selection.json go (default: the first --exp_dir)")
    args = parser.parse_args(cmd)
    rows = collect_all(args.exp_dir, args.label)
    if not rows:
        raise SystemExit(f"no runs (*/run.json) under {', '.join(args.exp_dir)}: run stages 5-8 first")
    table, chosen = write_selection(rows, Path(args.out_dir or args.exp_dir[0]))
    print(table.read_text(encoding="utf-8"))
    print(f"selection: {table.resolve()}, chosen configurations: {chosen.resolve()}")


if __name__ == "__main__":
    main()
