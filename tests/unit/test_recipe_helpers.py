"""Pieces of the stage script that run without ESPnet training: config layering,
experiment names, WER scoring, data checks and the results table."""

import json
from pathlib import Path

import pytest
import yaml

from espnet_peft.bin import collect_results
from espnet_peft.recipe import config, plan, score
from espnet_peft.results import scan as results


def test_config_layers_merge_and_drop_run_specific_keys(tmp_path):
    base = tmp_path / "base.yaml"
    base.write_text(yaml.safe_dump({
        "encoder_conf": {"output_size": 144, "num_blocks": 4}, "optim_conf": {"lr": 0.002},
        "train_data_path_and_name_and_type": [["a", "speech", "sound"]], "init_param": ["x.pth"]}))
    over = tmp_path / "lora.yaml"
    over.write_text(yaml.safe_dump({"encoder_conf": {"num_blocks": 6},
                                    "adapter_conf": {"r": 8, "alpha": 16}}))
    conf = config.compose([str(base), str(over)], ["optim_conf.lr=0.003", "use_adapter=true", "adapter=lora"])
    assert conf["encoder_conf"] == {"output_size": 144, "num_blocks": 6}
    assert conf["optim_conf"]["lr"] == 0.003
    assert "train_data_path_and_name_and_type" not in conf and "init_param" not in conf
    assert config.experiment_tag(conf) == "lora_r8_alpha16_lr0p003"
    assert config.experiment_tag({"optim_conf": {"lr": 5e-4}}) == "full_lr0p0005"
    with pytest.raises(FileNotFoundError, match="missing.yaml"):
        config.compose([str(tmp_path / "missing.yaml")])


def plan_layers(tmp_path, lora_conf: str):
    """A base config, a shared adaptation config and a conf/adapter dir with lora.yaml."""
    base = tmp_path / "base.yaml"
    base.write_text("optim_conf: {lr: 0.002}\n")
    adapt = tmp_path / "adapt.yaml"
    adapt.write_text("max_epoch: 3\n")
    conf_dir = tmp_path / "adapter"
    conf_dir.mkdir()
    (conf_dir / "lora.yaml").write_text(f"adapter_conf: {lora_conf}\n")
    return base, adapt, conf_dir


def test_plan_gives_each_run_its_own_directory(tmp_path):
    base, adapt, conf_dir = plan_layers(tmp_path, "{r: 4}")
    runs = plan.plan(tmp_path / "exp", base, adapt, conf_dir, ["child", "accented"], ["zero_shot", "full", "lora"])
    dirs = [str(r[2]) for r in runs]
    assert len(runs) == 4 and len(set(dirs)) == 4
    assert any(d.endswith("adapt_child_lora_r4_lr0p002") for d in dirs)
    lora_conf = yaml.safe_load(next(r[3] for r in runs if r[1] == "lora").read_text())
    assert lora_conf["use_adapter"] is True and lora_conf["adapter"] == "lora" and lora_conf["max_epoch"] == 3
    with pytest.raises(SystemExit, match="dora.yaml"):
        plan.plan(tmp_path / "exp", base, adapt, conf_dir, ["child"], ["dora"])


def test_edit_counts_and_wer():
    assert score.edit_counts("a b c d".split(), "a x c d e".split()) == (1, 0, 1)
    assert score.edit_counts("a b c".split(), []) == (0, 3, 0)
    assert score.edit_counts([], "a".split()) == (0, 0, 1)
    r = score.error_rate({"u1": "the cat sat", "u2": "a dog"}, {"u1": "the cat sat", "u2": "a big dog"})
    assert r["rate"] == pytest.approx(100 * 1 / 5) and r["ins"] == 1


def test_score_dir_counts_missing_hypotheses_as_deletions(tmp_path):
    (tmp_path / "ref").write_text("u1 the cat\nu2 a dog runs\n")
    (tmp_path / "dec/1best_recog").mkdir(parents=True)
    (tmp_path / "dec/1best_recog/text").write_text("u1 the hat\n")
    res = score.score_dir(tmp_path / "dec", tmp_path / "ref")
    assert res["wer"] == pytest.approx(100 * 4 / 5) and res["missing"] == 1
    assert json.loads((tmp_path / "dec/score.json").read_text())["del"] == 3
    assert "REF: a dog runs" in (tmp_path / "dec/result.txt").read_text()


def test_basic_normalisation_scores_cased_punctuated_output_against_a_normalised_reference(tmp_path):
    def decode_dir(name, refs, hyps):
        (tmp_path / name / "1best_recog").mkdir(parents=True)
        (tmp_path / name / "ref").write_text("".join(f"u{i} {t}\n" for i, t in enumerate(refs)))
        (tmp_path / name / "1best_recog/text").write_text("".join(f"u{i} {t}\n" for i, t in enumerate(hyps)))
        return ["--decode_dir", str(tmp_path / name), "--ref", str(tmp_path / name / "ref")]

    eng = decode_dir("eng", ["HELLO WORLD", "it's ten o'clock"], ["Hello, world.", "It's ten o'clock!"])
    zho = decode_dir("zho", ["\u4f60\u597d\u4e16\u754c"], ["\u4f60\u597d\uff0c\u4e16\u754c\u3002"])
    score.main(eng)
    assert json.loads((tmp_path / "eng/score.json").read_text())["wer"] == pytest.approx(100 * 4 / 5)
    score.main(eng + ["--normalize", "basic"])
    saved = json.loads((tmp_path / "eng/score.json").read_text())
    assert saved["wer"] == 0.0 and saved["normalize"] == "basic"
    score.main(zho + ["--normalize", "basic", "--metric", "cer"])  # full-width punctuation
    assert json.loads((tmp_path / "zho/score.json").read_text())["cer"] == 0.0
    assert score.normalize("\uff21\uff22C-d  e\u2019s") == "abc d e s"  # NFKC, folded, no P*/S*
    with pytest.raises(SystemExit):
        score.main(eng + ["--normalize", "x"])


def test_results_table(tmp_path):
    def make(name, run, summary, wers):
        d = tmp_path / name
        d.mkdir()
        (d / "run.json").write_text(json.dumps(run))
        if summary:
            (d / "peft_summary.json").write_text(json.dumps(summary))
        for test, wer in wers.items():
            (d / f"decode_{test}").mkdir()
            (d / f"decode_{test}" / "score.json").write_text(json.dumps({"wer": wer}))

    make("base", {"role": "zero_shot", "method": "zero_shot", "domains": ["child"],
                  "test_sets": {"child": "child_test", "source": "adult_test"}},
         {"trainable_params": 1000, "base_params": 1000, "train_wall_s": 50}, {"child_test": 70.0, "adult_test": 3.0})
    make("adapt_child_lora", {"role": "adapt", "method": "lora", "domain": "child", "tag": "lora_r8",
                              "test_sets": {"child": "child_test", "source": "adult_test"}},
         {"trainable_params": 20, "base_params": 1000, "train_wall_s": 12.5, "peak_cpu_rss_mb": 900},
         {"child_test": 10.0, "adult_test": 4.5})
    rows = results.collect(tmp_path)
    assert [r["method"] for r in rows] == ["zero_shot", "lora"]
    assert rows[0]["trainable_params"] == 0 and rows[0]["train_time_s"] is None
    assert rows[1]["trainable_pct"] == 2.0 and rows[1]["target_wer"] == 10.0 and rows[1]["source_wer"] == 4.5
    md = collect_results.write_tables(rows, tmp_path).read_text()
    # method | hyperparameters | M | % | test | source | gap to full FT (none ran) | time | memory
    assert "| lora | – | 0.000 | 2.00 | 10.0 | 4.5 | – | 12 | 900 |" in md
    assert (tmp_path / "results.csv").read_text().count("\n") == 3


def test_sweep_expands_a_grid_into_distinct_runs(tmp_path):
    base, adapt, conf_dir = plan_layers(tmp_path, "{r: 4, alpha: 8, dropout: 0.0}")
    runs = plan.plan(tmp_path / "exp", base, adapt, conf_dir, ["child"], ["lora"],
                     sweep="lora:r=2,8:dropout=0.0,0.1:optim_conf.lr=0.001,0.01")
    dirs = {r[2].name for r in runs}
    assert len(runs) == len(dirs) == 8
    assert "adapt_child_lora_r8_alpha8_lr0p01_dropout0p1" in dirs
    confs = [yaml.safe_load(r[3].read_text()) for r in runs]
    assert sorted({c["adapter_conf"]["r"] for c in confs}) == [2, 8]
    assert {c["optim_conf"]["lr"] for c in confs} == {0.001, 0.01}
    with pytest.raises(SystemExit, match="not in --methods"):
        plan.plan(tmp_path / "exp", base, adapt, conf_dir, ["child"], ["lora"], sweep="dora:r=2,4")
    with pytest.raises(SystemExit, match="bad axis"):
        plan.parse_sweep("lora:r")


def test_peak_memory_mark_is_reset_to_what_is_resident_now():
    """Several training runs share a process (espnet_peft.recipe.train_runs): each run's
    summary must report its own peak, not one an earlier run reached."""
    import numpy as np

    from espnet_peft.core import memory

    if not Path("/proc/self/clear_refs").exists():
        pytest.skip("needs Linux /proc")
    big = np.ones(300 * 2**20 // 8)  # 300 MB, every page touched
    high = memory.peak_rss_mb()
    del big
    assert memory.reset_peak()
    assert memory.peak_rss_mb() < high - 200
