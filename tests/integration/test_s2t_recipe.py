"""The S2T (OWSM-style) path of the stage script, end to end: a tiny random OWSM-layout
model (tests/helpers/tiny_owsm.py) saved like a downloaded release, adapted with ``--task s2t``
to mini_synth's child speech through stages 1-9 (S2T texts, the base tokenizer,
collect_stats, s2t_train with LoRA and SSVD, s2t_inference zero-shot and from
adapter-only checkpoints, scoring, results), with the OWSM recipes' adapter configs.
Plus the small pieces: task detection, clear errors, the S2T text files, scoring
without the prompt symbols.

Needs espeak-ng and sox; about 2.5 minutes on 2 CPU cores.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import torch
import yaml
from helpers.tiny_owsm import make_pretrained

from espnet_peft.recipe import s2t
from espnet_peft.recipe.score import score_dir

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "egs2/mini_synth/peft1"
SIZES = ("adult_train=4,adult_dev=2,adult_test=3,child_train=8,child_dev=3,child_test=3,"
         "accented_train=1,accented_dev=1,accented_test=1")
METHODS = ["zero_shot", "lora", "ssvd"]

needs_audio = pytest.mark.skipif(shutil.which("espeak-ng") is None or shutil.which("sox") is None,
                                 reason="needs espeak-ng and sox")


def words():
    lines = (RECIPE / "local/words.txt").read_text().splitlines()
    return [line.split()[1] for line in lines if line.strip() and not line.startswith("#")]


@pytest.fixture(scope="module")
def owsm(tmp_path_factory):
    w = words()
    return make_pretrained(tmp_path_factory.mktemp("owsm"), [" ".join(w[i:i + 5]) for i in range(0, len(w), 3)])


def run_recipe(work: Path, owsm, *extra):
    cmd = [RECIPE / "run.sh", "--task", "s2t", "--s2t_lang", "<eng>",
           "--base_model", owsm["model"], "--base_train_config", owsm["config"],
           "--datadir", work / "data", "--dumpdir", work / "dump", "--expdir", work / "exp",
           "--local_data_opts", f"--sizes {SIZES} --wavdir {work}/wav",
           "--target_domains", "child", "--methods", " ".join(METHODS),
           # the OWSM recipes' adapters (attention, feed-forward, cgMLP, merge layers)
           "--adapter_conf_dir", ROOT / "egs2/myst/peft1/conf/adapter",
           "--adapt_args", "--max_epoch 1 --batch_size 4",
           "--inference_args", "--beam_size 2 --maxlenratio 0.2", *extra]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env)


@needs_audio
def test_owsm_style_model_through_every_stage(tmp_path, owsm):
    proc = run_recipe(tmp_path, owsm)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for stage in range(1, 10):
        assert f"stage {stage}:" in proc.stdout, f"stage {stage} did not report"
    dump = tmp_path / "dump/raw/child_train"
    text = (dump / "text").read_text().splitlines()
    assert (dump / "text.s2t").read_text().splitlines() == [
        f"{u} <eng><asr><notimestamps> {t}" for u, _, t in (line.partition(" ") for line in text)]
    assert (dump / "text.ctc").read_text().splitlines() == text
    assert set((dump / "text.prev").read_text().split()[1::2]) == {"<na>"}

    exp = tmp_path / "exp"
    base_keys = set(torch.load(owsm["model"], weights_only=True))
    for m in METHODS[1:]:
        [run] = list(exp.glob(f"adapt_child_{m}_*"))
        assert "--entry espnet_peft.bin.s2t_train" in (run / "run.sh").read_text()
        assert any(a.endswith("/text.prev,text_prev,text") for a in (run / "train.args").read_text().split("\n"))
        conf = yaml.safe_load((run / "config.yaml").read_text())
        assert conf["num_iters_per_epoch"] is None and conf["use_tensorboard"] is False
        keys = set(torch.load(run / "valid.acc.ave.pth", weights_only=True))
        assert keys and not keys & {k for k in base_keys if k.endswith(".weight")}, "not adapter-only"
    runs = [exp / "base_pretrained", *(exp.glob("adapt_child_*"))]
    assert len(runs) == len(METHODS)
    for run in runs:
        for test in ("child_test", "adult_test"):
            out = run / f"decode_{test}"
            hyps = (out / "1best_recog/text").read_text().splitlines()
            assert len(hyps) == 3 and all("<eng><asr><notimestamps>" in h for h in hyps)
            assert "<" not in (out / "1best_recog/text_nospecial").read_text()
            score = json.loads((out / "score.json").read_text())
            assert score["utterances"] == 3 and score["missing"] == 0 and score["wer"] >= 0
            assert score["normalize"] == "basic"  # --score_normalize auto for --task s2t
    rows = (exp / "results.csv").read_text().splitlines()
    assert len(rows) == 1 + len(METHODS)
    table = (exp / "RESULTS.md").read_text()
    for m in METHODS:
        assert f"| {m} |" in table


def test_task_must_fit_the_base_config(tmp_path, owsm):
    asr_config = RECIPE / "conf/tuning/train_base_tiny.yaml"
    assert s2t.config_task(yaml.safe_load(owsm["config"].read_text())) == "s2t"
    assert s2t.config_task(yaml.safe_load(asr_config.read_text())) == "asr"
    s2t.check_base(owsm["config"], "s2t", "nld")
    with pytest.raises(SystemExit, match=r"train_base_tiny.yaml is not an ESPnet S2T"):
        s2t.check_base(asr_config, "s2t")
    with pytest.raises(SystemExit, match="run it with --task s2t"):
        s2t.check_base(owsm["config"], "asr")
    with pytest.raises(SystemExit, match="no <fra>"):
        s2t.check_base(owsm["config"], "s2t", "fra")
    # The stage script stops before any stage, naming the file.
    work = tmp_path / "w"
    common = ["--datadir", work / "d", "--dumpdir", work / "du", "--expdir", work / "e"]
    proc = subprocess.run([str(c) for c in [RECIPE / "run.sh", "--task", "s2t", "--base_model", owsm["model"],
                                            "--base_train_config", asr_config, *common]],
                          capture_output=True, text=True)
    assert proc.returncode != 0 and "train_base_tiny.yaml is not an ESPnet S2T" in proc.stderr
    proc = subprocess.run([str(c) for c in [RECIPE / "run.sh", "--task", "s2t", *common]],
                          capture_output=True, text=True)
    assert proc.returncode != 0 and "--task s2t adapts a pretrained S2T model" in proc.stderr
    assert not (work / "d").exists()


def test_s2t_texts_and_scoring_without_prompt_symbols(tmp_path):
    d = tmp_path / "set"
    d.mkdir()
    (d / "text").write_text("u1 de kat\nu2 een hond\n")
    s2t.write_s2t_texts(d, "nld")
    assert (d / "text.s2t").read_text() == "u1 <nld><asr><notimestamps> de kat\nu2 <nld><asr><notimestamps> een hond\n"
    assert (d / "text.prev").read_text() == "u1 <na>\nu2 <na>\n"
    mtimes = {p.name: p.stat().st_mtime_ns for p in d.iterdir()}
    s2t.write_s2t_texts(d, "<nld>")  # unchanged content: files are not rewritten
    assert mtimes == {p.name: p.stat().st_mtime_ns for p in d.iterdir()}

    best = tmp_path / "decode/1best_recog"
    best.mkdir(parents=True)
    (best / "text").write_text("u1 <nld><asr><notimestamps> de kat\nu2 <nld><asr><notimestamps> een hond\n")
    (best / "text_nospecial").write_text("u1 de kat\nu2 een hond\n")
    assert score_dir(tmp_path / "decode", d / "text")["wer"] == 0.0
