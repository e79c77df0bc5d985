"""Pieces of the stage script that run without ESPnet training: config layering,
experiment names, WER scoring, data checks and the results table."""

import json
from pathlib import Path

import pytest
import yaml

from espnet_peft.recipe import config, plan, score
from espnet_peft.results import scan as results
from espnet_peft.results import schema, writers


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
    md = writers.write_tables(rows, tmp_path).read_text()
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


# ---- the recipe command (python -m espnet_peft.recipe) ---------------------------------

ROOT = Path(__file__).resolve().parents[2]


def recipe_command(*args, module="espnet_peft.recipe"):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", module, *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


def test_dispatcher_lists_every_command_and_runs_each_ones_help(capsys):
    from espnet_peft.recipe import __main__ as dispatcher

    listing = recipe_command("--help")
    assert listing.returncode == 0
    listed = [line.split()[0] for line in listing.stdout.splitlines() if line.startswith("  ")]
    assert listed == list(dispatcher.COMMANDS)
    expected = {"methods", "config", "config_get", "s2t", "format_data", "tokens", "plan", "run_json",
                "train_runs", "score"}
    assert set(listed) == expected
    for name in dispatcher.COMMANDS:
        with pytest.raises(SystemExit) as stop:
            dispatcher.main([name, "--help"])
        assert stop.value.code == 0, name
        assert f"python -m espnet_peft.recipe {name}" in capsys.readouterr().out, name
    assert dispatcher.main(["methods", "lora"]) == 0
    assert capsys.readouterr().out.split() == ["lora"]
    assert recipe_command("config-get", "--help").returncode == 0  # dashes work as underscores
    unknown = recipe_command("nonsense")
    assert unknown.returncode == 2 and "unknown command 'nonsense'" in unknown.stderr and "plan" in unknown.stderr
    assert recipe_command().returncode == 2
    # The modules still run on their own, as before.
    for module in ("config", "plan", "score", "s2t", "tokens", "format_data", "train_runs", "methods", "run_json"):
        assert recipe_command("--help", module=f"espnet_peft.recipe.{module}").returncode == 0, module


def test_dispatcher_imports_no_torch():
    code = ("import sys; import espnet_peft.recipe.__main__ as m; m.usage(); "
            "[m.command(c) for c in m.COMMANDS]; print('torch' in sys.modules)")
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "False"


def test_methods_sets_expand_through_the_catalog():
    from espnet_peft.methods import catalog
    from espnet_peft.recipe.methods import expand

    every = catalog.method_names()
    assert expand("all") == [catalog.ZERO_SHOT, *every]
    assert expand("seed") == [catalog.ZERO_SHOT, *catalog.method_names("seed")]
    assert expand("baselines") == catalog.method_names("baseline")
    assert catalog.method_names("seed") and catalog.method_names("baseline")
    assert sorted(expand("seed baselines")) == sorted(expand("all"))
    assert expand("seed bitfit") == [*expand("seed"), "bitfit"]
    assert expand("lora zero_shot lora all")[:2] == ["lora", catalog.ZERO_SHOT]  # once each, first place
    assert len(expand("lora all")) == len(expand("all"))
    assert expand("") == [] and expand(["full", "lora"]) == ["full", "lora"]
    with pytest.raises(ValueError, match=r"unknown method lorra, foo; expected the sets all, seed, baselines.*ssvd_o"):
        expand("lorra seed foo")
    proc = recipe_command("methods", "seed bitfit")
    assert proc.returncode == 0 and proc.stdout.split() == expand("seed bitfit")
    proc = recipe_command("methods", "lorra")
    assert proc.returncode == 1 and "unknown method lorra" in proc.stderr and "Traceback" not in proc.stderr


def test_peft_sh_stops_early_on_an_unknown_method(tmp_path):
    import subprocess

    proc = subprocess.run([str(ROOT / "egs2/mini_synth/peft1/run.sh"), "--methods", "seed lorra",
                           "--expdir", tmp_path / "exp", "--datadir", tmp_path / "d", "--dumpdir", tmp_path / "du"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "unknown method lorra" in proc.stderr and "expected the sets" in proc.stderr
    assert "stage 1" not in proc.stdout and not (tmp_path / "d").exists()


def test_run_names_of_the_demo_adapter_configs_are_unchanged(tmp_path):
    """Run directory names come from the catalog's run-name keys and labels: the names the
    demo has always used (existing experiment directories must keep matching)."""
    conf = ROOT / "egs2/mini_synth/peft1/conf"
    runs = plan.plan(tmp_path / "exp", conf / "tuning/train_base_tiny.yaml", conf / "adapt.yaml", conf / "adapter",
                     ["child"], ["zero_shot", "full", "bitfit", "lora", "dora", "pissa", "ssvd", "ssvd_o", "s2lora",
                                 "adalora", "vera", "bottleneck", "semiorth"])
    assert [r[2].name for r in runs] == [
        "adapt_child_full_lr0p0005", "adapt_child_bitfit_lr0p01", "adapt_child_lora_r8_alpha16_lr0p003",
        "adapt_child_dora_r8_alpha16_lr0p003", "adapt_child_pissa_r8_alpha8_lr0p001",
        "adapt_child_ssvd_k_fraction0p4_rotationapprox_lr0p003",
        "adapt_child_ssvd_o_k_fraction0p4_rotationapprox_budget_ratio0p5_lr0p003",
        "adapt_child_s2lora_r8_alpha16_l1_weight0p0001_lr0p003", "adapt_child_adalora_alpha16_rinit12_rtarget8_lr0p01",
        "adapt_child_vera_r256_lr0p05", "adapt_child_bottleneck_top2_dim32_lr0p003", "adapt_child_semiorth_rank0p35_lr0p003"]
    adalora = {"use_adapter": True, "adapter": "adalora", "optim_conf": {"lr": 0.01},
               "adapter_conf": {"init_r": 4, "target_r": 2, "alpha": 8, "total_step": 10}}
    assert config.experiment_tag(adalora) == "adalora_alpha8_rinit4_rtarget2_lr0p01"
    # A method the catalog does not know is named by every method's keys.
    assert config.experiment_tag({"use_adapter": True, "adapter": "mine", "adapter_conf": {"k": 3, "r": 2}}) == "mine_r2_k3"
    # A swept key the name does not show is added with its catalog label.
    base, adapt, conf_dir = plan_layers(tmp_path, "{r: 4}")
    (conf_dir / "adalora.yaml").write_text("adapter_conf: {init_r: 6}\n")
    [run] = plan.plan(tmp_path / "exp2", base, adapt, conf_dir, ["child"], ["adalora"], sweep="adalora:target_r=3")
    assert run[2].name == "adapt_child_adalora_rinit6_rtarget3_lr0p002"
    [run] = plan.plan(tmp_path / "exp3", base, adapt, conf_dir, ["child"], ["lora"], sweep="lora:dropout=0.1")
    assert run[2].name == "adapt_child_lora_r4_lr0p002_dropout0p1"


def test_plan_command_writes_the_plan_file_only_when_it_changes(tmp_path):
    import os

    base, adapt, conf_dir = plan_layers(tmp_path, "{r: 4}")
    args = ["--expdir", tmp_path / "exp", "--base_conf", base, "--adapt_config", adapt, "--adapter_conf_dir", conf_dir,
            "--domains", "child accented", "--methods", "zero_shot lora", "--plan_file", tmp_path / "exp/jobs/plan.txt"]
    proc = recipe_command("plan", *args)
    assert proc.returncode == 0, proc.stderr
    plan_file = tmp_path / "exp/jobs/plan.txt"
    assert plan_file.read_text() == proc.stdout and len(proc.stdout.splitlines()) == 2
    assert proc.stdout.split("\n")[0].split()[:3] == ["child", "lora", str(tmp_path / "exp/adapt_child_lora_r4_lr0p002")]
    os.utime(plan_file, ns=(1, 1))
    assert recipe_command("plan", *args).returncode == 0 and plan_file.stat().st_mtime_ns == 1
    proc = recipe_command("plan", *args[:-4], "--methods", "all")
    assert proc.returncode == 1 and "bitfit.yaml for method bitfit" in proc.stderr  # all: every method's yaml


def test_run_json_has_what_the_results_read(tmp_path):
    from espnet_peft.recipe import run_json

    base, run_dir = tmp_path / "base_adult", tmp_path / "adapt_child_lora_r8_alpha16_lr0p003"
    base.mkdir()
    run_dir.mkdir()
    proc = recipe_command("run_json", "--source_domain", "adult", "--zero_shot", base, "--domains", "child accented")
    assert proc.returncode == 0, proc.stderr
    # The content peft.sh wrote with printf before.
    assert json.loads((base / "run.json").read_text()) == {
        "role": "zero_shot", "method": "zero_shot", "domains": ["child", "accented"],
        "test_sets": {"child": "child_test", "accented": "accented_test", "source": "adult_test"}}
    run_json.main(["--source_domain", "adult", "--adapt", "child", "lora", str(run_dir),
                   "--adapt", "child", "full", str(tmp_path / "elsewhere")])
    assert json.loads((run_dir / "run.json").read_text()) == {
        "role": "adapt", "domain": "child", "method": "lora", "tag": "lora_r8_alpha16_lr0p003",
        "test_sets": {"child": "child_test", "source": "adult_test"}}
    assert json.loads((tmp_path / "elsewhere/run.json").read_text())["tag"] == "elsewhere"  # no adapt_child_ prefix
    assert schema.tag_of(schema.run_dir_name("child", "x_y"), "child") == "x_y"
    with pytest.raises(SystemExit):
        run_json.main(["--source_domain", "adult"])
    with pytest.raises(SystemExit):
        run_json.main(["--source_domain", "adult", "--zero_shot", str(base)])  # which domains?
    for d in (base, run_dir):  # and the result rows read them
        (d / "decode_child_test").mkdir()
        (d / "decode_child_test/score.json").write_text(json.dumps({"wer": 10.0}))
    rows = results.collect(tmp_path)
    assert {(r["method"], r["domain"], r["target_wer"]) for r in rows if r["domain"] == "child"} >= {
        ("zero_shot", "child", 10.0), ("lora", "child", 10.0)}


def test_config_get_prints_one_value_for_the_stage_script(tmp_path):
    conf = tmp_path / "config.yaml"
    conf.write_text(yaml.safe_dump({"token_list": ["<blank>", "a"], "bpemodel": None, "token_type": "hugging_face",
                                    "frontend_conf": {"n_fft": 512}, "use_adapter": True, "empty": ""}))

    def get(*args):
        proc = recipe_command("config_get", conf, *args)
        return proc.returncode, proc.stdout.rstrip("\n"), proc.stderr

    assert get("token_type", "--default", "bpe") == (0, "hugging_face", "")
    assert get("token_list") == (0, "", "")             # an inline list: no file to name
    assert get("bpemodel", "--default", "") == (0, "", "")
    assert get("bpemodel") == (0, "", "")               # null
    assert get("empty", "--default", "x") == (0, "x", "")
    assert get("frontend_conf.n_fft") == (0, "512", "")
    assert get("use_adapter") == (0, "true", "")
    assert get("nothing", "--default", "bpe") == (0, "bpe", "")
    rc, out, err = get("nothing")
    assert rc == 1 and out == "" and "has no nothing" in err
    proc = recipe_command("config_get", tmp_path / "missing.yaml", "x")
    assert proc.returncode == 1 and "missing.yaml" in proc.stderr and "Traceback" not in proc.stderr
