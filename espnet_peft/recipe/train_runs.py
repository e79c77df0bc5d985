"""Train several runs one after another in one Python process (peft.sh stage 6).

    python -m espnet_peft.recipe train_runs --entry espnet_peft.bin.asr_train RUN_DIR [RUN_DIR ...]

Each ``RUN_DIR`` holds ``train.args``: the entry point's arguments, one per line (peft.sh
writes it). Every run calls the entry point's ``main`` -- the code ``python -m <entry>``
runs -- with its output (stdout, stderr and ESPnet's log, at the file-descriptor level,
like ``> train.log 2>&1``) in ``RUN_DIR/train.log``. Sharing the process saves ESPnet's
import for every run but the first (13-17 s on a 2-core CPU; the miniature demo's runs
train for less than that). A run that fails is reported and the next one starts; the
exit status is 1 when any failed. A crash of the process itself (killed, out of memory)
ends the runs after it: run the stage again, finished runs are skipped and interrupted
ones resume (``--resume true``).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import sys
import time
import traceback
from pathlib import Path

from espnet_peft.core import memory

ARGS_FILE = "train.args"
LOG_FILE = "train.log"


@contextlib.contextmanager
def output_to(path: Path):
    """Send everything this process writes to ``path`` for the duration, like ``> path 2>&1``:
    file descriptors 1 and 2 (C code, child processes) and ``sys.stdout``/``sys.stderr``
    (Python code, ESPnet's logging handler); with a fresh root logger inside, so that
    each run's ``logging.basicConfig`` applies its own level and format."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved_fds = os.dup(1), os.dup(2)
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    root.handlers = []
    with open(path, "w", buffering=1) as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                yield
        finally:
            for handler in root.handlers:
                handler.flush()
            root.handlers = saved_handlers
            root.setLevel(saved_level)
            log.flush()
            os.dup2(saved_fds[0], 1)
            os.dup2(saved_fds[1], 2)
            for fd in saved_fds:
                os.close(fd)


def read_args(run_dir: Path) -> list[str]:
    path = run_dir / ARGS_FILE
    if not path.is_file():
        raise SystemExit(f"train_runs: {path} not found (written by peft.sh stage 6)")
    return [line for line in path.read_text().splitlines() if line]


def train_one(main, run_dir: Path) -> int:
    """Run ``main`` on ``run_dir``'s arguments with output in its train.log; its exit status."""
    args = read_args(run_dir)
    memory.reset_peak()  # peft_summary.json reports this run's peak, not an earlier one's
    with output_to(run_dir / LOG_FILE):
        print("# " + " ".join(args), flush=True)
        try:
            main(args)
            status = 0
        except SystemExit as e:
            status = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            if isinstance(e.code, str):
                print(e.code, file=sys.stderr)
        except Exception:
            traceback.print_exc()
            status = 1
    return status


def tail(path: Path, n: int = 3) -> str:
    lines = path.read_text(errors="replace").splitlines() if path.is_file() else []
    return "\n".join("    " + line for line in lines[-n:])


def main(argv=None) -> int:
    """Stage 6: train several runs one after another in one process."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entry", default="espnet_peft.bin.asr_train",
                        help="module whose main(argv) trains one run")
    parser.add_argument("run_dirs", nargs="+", type=Path)
    args = parser.parse_args(argv)
    for d in args.run_dirs:
        read_args(d)  # every run's arguments exist before the first one starts
    entry = importlib.import_module(args.entry).main
    failed = []
    for i, run_dir in enumerate(args.run_dirs, 1):
        print(f"[train_runs] {i}/{len(args.run_dirs)} {run_dir}: training (log: {run_dir / LOG_FILE})",
              flush=True)
        start = time.time()
        status = train_one(entry, run_dir)
        verdict = "finished" if status == 0 else f"FAILED with status {status}"
        print(f"[train_runs] {run_dir}: {verdict} after {time.time() - start:.0f} s; last lines:\n"
              f"{tail(run_dir / LOG_FILE)}", flush=True)
        if status != 0:
            failed.append(run_dir)
    if failed:
        print(f"[train_runs] {len(failed)} of {len(args.run_dirs)} run(s) failed: "
              + " ".join(map(str, failed)), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
