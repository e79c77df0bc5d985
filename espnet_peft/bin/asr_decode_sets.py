"""Decode many (model, data set) pairs in one process with ESPnet's asr_inference
(or s2t_inference: ``espnet_peft.bin.s2t_decode_sets``, the same job file).

Starting ESPnet costs 10-25 s per process, and a recipe decodes every adapted model on
target and source test sets; this entry point pays that once per job list. Each line of
the job file is tab-separated:

    <asr_train_config> <asr_model_file> <wav.scp> <output_dir> [<base_model_file>]

and is decoded by ``espnet2.bin.asr_inference.inference`` with the options given after
``--jobs`` (any asr_inference option, e.g. ``--beam_size 5 --ctc_weight 0.3``; for S2T
any s2t_inference option, e.g. ``--lang_sym eng --task_sym asr``), loading
models through espnet_peft's adapter-safe loader. Finished outputs (as many hypotheses
as wav.scp lines) are skipped, so an interrupted job list resumes.

    python -m espnet_peft.bin.asr_decode_sets --jobs exp/jobs/decode.1.tsv --beam_size 5
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path


def _count_lines(path: Path) -> int:
    return sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())


def read_jobs(path):
    jobs = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) not in (4, 5):
            raise SystemExit(f"{path}:{n}: expected 4 or 5 tab-separated fields "
                             f"(config, model, wav.scp, output_dir[, base_model_file]), got {len(fields)}")
        jobs.append(fields + [""] * (5 - len(fields)))
    return jobs


def main(cmd=None, task: str = "asr"):
    import importlib

    import espnet_peft  # noqa: F401
    from espnet_peft.integration.tasks import task_class
    from espnet_peft.bin._common import pop_option
    from espnet_peft.integration.loading import patched_task

    inference = importlib.import_module(f"espnet2.bin.{task}_inference")
    argv = list(sys.argv[1:] if cmd is None else cmd)
    job_file, rest = pop_option(argv, "--jobs")
    if job_file is None:
        raise SystemExit(f"usage: {task}_decode_sets --jobs FILE [{task}_inference options]")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s decode_sets: %(message)s")
    jobs = read_jobs(job_file)
    parser = inference.get_parser()
    start = time.time()
    for i, (config, model, wav_scp, out_dir, base) in enumerate(jobs, 1):
        out = Path(out_dir)
        hyp = out / "1best_recog" / "text"
        if hyp.is_file() and _count_lines(hyp) == _count_lines(Path(wav_scp)):
            logging.info("[%d/%d] %s already decoded; skipping", i, len(jobs), out)
            continue
        t0 = time.time()
        args = parser.parse_args(rest + [
            f"--{task}_train_config", config, f"--{task}_model_file", model,
            "--data_path_and_name_and_type", f"{wav_scp},speech,sound", "--output_dir", out_dir])
        kwargs = vars(args)
        kwargs.pop("config", None)
        with patched_task(task_class(task), base or None):
            inference.inference(**kwargs)
        logging.info("[%d/%d] %s: %d utterances in %.0f s (%.0f s elapsed)", i, len(jobs), out,
                     _count_lines(Path(wav_scp)), time.time() - t0, time.time() - start)


if __name__ == "__main__":
    main()
