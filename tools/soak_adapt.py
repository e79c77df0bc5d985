#!/usr/bin/env python3
"""Soak test: run a recipe's adaptation stage again and again, SIGKILLing the whole
process tree at random moments, until the stage finishes by itself; then check that
nothing was lost: every run has its summary, and its final adapter weights equal those
of the same run in an uninterrupted reference experiment, bit for bit.

    tools/soak_adapt.py --recipe egs2/mini_synth/peft1 --reference_exp exp \\
        --work /tmp/soak --methods "lora pissa s2lora ssvd_o" --domains child

``--reference_exp`` must hold a finished run of the same recipe (stages 4-5 at least);
its base model and statistics are copied into ``--work``. With ``--fresh_reference``
the stage is first run uninterrupted into ``--work/reference`` (same base and code),
which is what the killed runs are compared with; otherwise the reference experiment's
own adaptation runs are (they must then come from the same code). Not a unit test: it
takes minutes (the stage's own run time, plus the killed attempts).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path


def final_epoch_file(run_dir: Path) -> Path:
    epochs = sorted(run_dir.glob("*epoch.pth"), key=lambda p: int(p.name.split("epoch")[0]))
    if not epochs:
        raise SystemExit(f"soak: {run_dir} has no <N>epoch.pth")
    return epochs[-1]


def compare(run_dir: Path, ref_dir: Path) -> list:
    import torch

    mine = torch.load(final_epoch_file(run_dir), weights_only=True)
    ref = torch.load(ref_dir / final_epoch_file(run_dir).name, weights_only=True)
    if mine.keys() != ref.keys():
        return ["<different tensor names>"]
    return [k for k in ref if not torch.equal(mine[k], ref[k])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipe", required=True, type=Path)
    parser.add_argument("--reference_exp", default="exp", help="relative to --recipe")
    parser.add_argument("--work", required=True, type=Path)
    parser.add_argument("--methods", default="lora pissa s2lora ssvd_o")
    parser.add_argument("--domains", default="child")
    parser.add_argument("--min_s", type=float, default=3.0, help="earliest kill after a start")
    parser.add_argument("--max_s", type=float, default=40.0, help="latest kill after a start")
    parser.add_argument("--max_attempts", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fresh_reference", action="store_true",
                        help="first run the stage uninterrupted into --work/reference")
    args = parser.parse_args()

    recipe = args.recipe.resolve()
    source = (recipe / args.reference_exp).resolve()
    exp = (args.work / "exp").resolve()
    if exp.exists():
        raise SystemExit(f"soak: {exp} exists; give a fresh --work")

    def stage6(expdir: Path):
        expdir.mkdir(parents=True)
        for pattern in ("base_*", "stats_*"):
            for src in source.glob(pattern):
                if src.is_dir():
                    shutil.copytree(src, expdir / src.name, symlinks=True)
        return [str(recipe / "run.sh"), "--stage", "6", "--stop_stage", "6", "--expdir", str(expdir),
                "--methods", args.methods, "--target_domains", args.domains]

    ref = source
    if args.fresh_reference:
        ref = (args.work / "reference").resolve()
        t0 = time.time()
        subprocess.run(stage6(ref), cwd=recipe, check=True, capture_output=True)
        print(f"reference: stage 6 uninterrupted in {time.time() - t0:.0f} s", flush=True)
    rng = random.Random(args.seed)
    cmd = stage6(exp)
    kills, attempts, start = 0, 0, time.time()
    while True:
        attempts += 1
        if attempts > args.max_attempts:
            raise SystemExit(f"soak: stage 6 did not finish in {args.max_attempts} attempts")
        log = open(args.work / f"attempt{attempts}.log", "w")
        proc = subprocess.Popen(cmd, cwd=recipe, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        delay = rng.uniform(args.min_s, args.max_s)
        try:
            rc = proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            kills += 1
            done = len(list(exp.glob("adapt_*/peft_summary.json")))
            print(f"attempt {attempts}: killed after {delay:.1f} s ({done} runs finished so far)", flush=True)
            continue
        finally:
            log.close()
        if rc != 0:
            raise SystemExit(f"soak: stage 6 failed (rc {rc}) on attempt {attempts}; "
                             f"see {args.work}/attempt{attempts}.log")
        break
    runs = sorted(p for p in exp.glob("adapt_*") if p.is_dir())
    report = {"attempts": attempts, "kills": kills, "runs": len(runs), "wall_s": round(time.time() - start),
              "lost": [], "different": {}}
    for run in runs:
        if not (run / "peft_summary.json").is_file():
            report["lost"].append(run.name)
            continue
        differ = compare(run, ref / run.name)
        if differ:
            report["different"][run.name] = differ[:5]
    print(json.dumps(report, indent=1))
    sys.exit(1 if report["lost"] or report["different"] else 0)


if __name__ == "__main__":
    main()
