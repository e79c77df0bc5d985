"""The recipe end to end on a tiny configuration: mini_synth's run.sh with a few
utterances per set, a one-block base model and one epoch per run, through every stage
(data, format, BPE, collect_stats, base training, adaptation, decoding, scoring,
results); then a second run of the finished recipe must change nothing.

Needs espeak-ng and sox; about 3 minutes on 2 CPU cores.
"""

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "egs2/mini_synth/peft1"
SIZES = ("adult_train=24,adult_dev=4,adult_test=4,child_train=8,child_dev=4,child_test=4,"
         "accented_train=8,accented_dev=4,accented_test=4")
METHODS = ["zero_shot", "full", "lora", "ssvd"]
DOMAINS = ["child", "accented"]

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None or shutil.which("sox") is None,
                                reason="needs espeak-ng and sox")


def run_recipe(work: Path, *extra):
    cmd = [str(RECIPE / "run.sh"), "--datadir", work / "data", "--dumpdir", work / "dump",
           "--expdir", work / "exp", "--local_data_opts", f"--sizes {SIZES} --wavdir {work}/wav",
           "--base_config", "conf/tuning/train_base_tiny.yaml", "--nbpe", "30",
           "--methods", " ".join(METHODS), "--adapt_args", "--max_epoch 1 --batch_size 4", *extra]
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def snapshot(work: Path):
    """Content hash and mtime of every output file except logs."""
    out = {}
    for p in sorted(work.rglob("*")):
        if p.is_file() and "log" not in p.relative_to(work).parts and not p.name.endswith(".log"):
            out[str(p.relative_to(work))] = (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
    return out


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    work = tmp_path_factory.mktemp("mini_synth")
    proc = run_recipe(work)
    return work, proc


def test_every_stage_writes_its_outputs(finished):
    work, proc = finished
    for stage in range(1, 10):
        assert f"stage {stage}:" in proc.stdout, f"stage {stage} did not report"
    for d in ["adult", *DOMAINS]:
        for s in ("train", "dev", "test"):
            assert (work / "dump/raw" / f"{d}_{s}" / "utt2num_samples").is_file()
        assert (work / "exp/stats_bpe_unigram30" / d / "train/text_shape.bpe").is_file()
    assert (work / "data/token_list/bpe_unigram30/tokens.txt").read_text().startswith("<blank>\n<unk>\n")
    base_ckpt = work / "exp/base_adult_bpe_unigram30/valid.acc.ave.pth"
    assert base_ckpt.is_file()
    base_keys = set(torch.load(base_ckpt, weights_only=True))

    summaries = {}
    for d in DOMAINS:
        for m in METHODS[1:]:
            [exp] = list((work / "exp").glob(f"adapt_{d}_{m}_*"))
            summaries[d, m] = json.loads((exp / "peft_summary.json").read_text())
            keys = set(torch.load(exp / "valid.acc.ave.pth", weights_only=True))
            if m == "full":
                assert keys == base_keys
            else:  # adapter-only checkpoint: no base parameter in it
                assert not keys & {k for k in base_keys if k.endswith(".weight")}
            for test in (f"{d}_test", "adult_test"):
                score = json.loads((exp / f"decode_{test}" / "score.json").read_text())
                assert score["utterances"] == 4 and score["missing"] == 0
    assert summaries["child", "lora"]["trainable_params"] < summaries["child", "full"]["trainable_params"]
    assert summaries["child", "full"]["trainable_params"] == summaries["child", "full"]["base_params"]

    rows = (work / "exp/results.csv").read_text().splitlines()
    assert len(rows) == 1 + len(DOMAINS) * len(METHODS)
    table = (work / "exp/RESULTS.md").read_text()
    for m in METHODS:
        assert f"| {m} |" in table
    assert "results table:" in proc.stdout


def test_rerunning_a_finished_recipe_changes_nothing(finished):
    work, _ = finished
    before = snapshot(work)
    proc = run_recipe(work)
    assert "is complete; skipping" in proc.stdout and "exists; skipping" in proc.stdout
    after = snapshot(work)
    assert set(after) == set(before)
    changed = [k for k in before if before[k][0] != after[k][0]]
    assert not changed, changed
    # Models were not retrained or rewritten.
    for k in before:
        if k.endswith(".pth"):
            assert before[k][1] == after[k][1], k


def test_unknown_option_and_missing_base_fail_clearly(tmp_path):
    proc = subprocess.run([str(RECIPE / "run.sh"), "--nonsense", "1"], capture_output=True, text=True)
    assert proc.returncode != 0 and "unknown option --nonsense" in proc.stderr
    proc = subprocess.run([str(RECIPE / "run.sh"), "--stage", "6", "--expdir", str(tmp_path / "exp"),
                           "--datadir", str(tmp_path / "d"), "--dumpdir", str(tmp_path / "du")],
                          capture_output=True, text=True)
    assert proc.returncode != 0 and "base model" in proc.stderr and "missing" in proc.stderr
