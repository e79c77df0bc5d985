"""collect_results on experiment directories built here: tables in the papers' layout
(markdown, CSV, LaTeX) that keep failed, unfinished, undecoded and missing runs, and
plots written as non-empty PNG/PDF files. No ESPnet process runs (a few seconds)."""

import csv
import io
import json
import re
from pathlib import Path

import pytest
import yaml

from espnet_peft.bin import collect_results
from espnet_peft.results import scan as results
from espnet_peft.results import curves, plots, ranks, writers
from helpers.experiments import BASE_PARAMS, ESPNET_EPOCH, make_run, write, write_score


@pytest.fixture
def exp(tmp_path):
    """Two target domains; a LoRA rank sweep, SSVD-O budget ratios, full fine-tuning, and
    one run of each kind that has no numbers."""
    exp = tmp_path / "exp"
    base = exp / "base_adult"
    write(base / "run.json", json.dumps({"role": "zero_shot", "method": "zero_shot", "domains": ["child", "accented"],
                                         "test_sets": {"child": "child_test", "accented": "accented_test",
                                                       "source": "adult_test"}}))
    write(base / "valid.acc.ave.pth", "")
    for test, wer in (("child_test", 60.0), ("accented_test", 16.0), ("adult_test", 8.0)):
        write(base / f"decode_{test}" / "score.json", json.dumps({"wer": wer}))
    for domain, full_wer in (("child", 20.0), ("accented", 12.0)):
        make_run(exp, domain, "full", lr=0.0005, trainable=BASE_PARAMS,
                 wers={f"{domain}_test": full_wer, "adult_test": 12.0})
        for r, wer in ((4, 24.0), (16, 22.0)):
            make_run(exp, domain, "lora", {"r": r, "alpha": 2 * r}, trainable=r * 25_000,
                     wers={f"{domain}_test": wer + (domain == "accented") * -8, "adult_test": 10.0 + r / 4})
    for ratio, wer in ((0.25, 23.0), (0.5, 22.5), (0.75, 23.5)):  # child only: missing on accented
        make_run(exp, "child", "ssvd_o", {"k_fraction": 0.4, "budget_ratio": ratio}, trainable=80_000,
                 wers={"child_test": wer, "adult_test": 11.0})
    dev_run = exp / "adapt_child_lora_r16_alpha32"
    write(dev_run / "decode_child_dev" / "score.json", json.dumps({"wer": 21.0}))
    make_run(exp, "child", "dora", {"r": 8, "alpha": 16}, epochs=1,
             log_tail="Traceback (most recent call last):\n  File \"x.py\", line 1\n"
                      "RuntimeError: CUDA out of memory while training")
    make_run(exp, "child", "pissa", {"r": 8, "alpha": 8}, epochs=2)  # still running / killed
    make_run(exp, "child", "ssvd", {"k_fraction": 0.4}, trainable=90_000)  # trained, never decoded
    # Stage 9's plan names an S2-LoRA run that never started (no directory at all).
    write(exp / "configs/s2lora_r8.yaml", yaml.safe_dump({"use_adapter": True, "adapter": "s2lora",
                                                          "adapter_conf": {"r": 8}, "optim_conf": {"lr": 0.003}}))
    write(exp / "jobs/plan.txt", f"child s2lora {exp}/adapt_child_s2lora_r8 {exp}/configs/s2lora_r8.yaml\n")
    return exp


def by(rows, domain, tag):
    [row] = [r for r in rows if r["domain"] == domain and r["tag"] == tag]
    return row


def test_rows_keep_every_run_with_its_status(exp):
    rows = results.collect(exp)
    assert {r["model"] for r in rows} == {"base_adult"}
    assert [r["domain"] for r in rows][:1] == ["child"]  # the recipe's domain order, not alphabetical
    assert by(rows, "child", "dora_r8_alpha16")["status"] == results.FAILED
    assert "RuntimeError: CUDA out of memory" in by(rows, "child", "dora_r8_alpha16")["note"]
    assert by(rows, "child", "pissa_r8_alpha8")["status"] == results.UNFINISHED
    ssvd = by(rows, "child", "ssvd_k_fraction0p4")
    assert ssvd["status"] == results.OK and ssvd["target_wer"] == results.NOT_DECODED
    planned = by(rows, "child", "s2lora_r8")
    assert planned["status"] == results.MISSING and planned["hyperparameters"] == {"r": 8, "lr": 0.003}
    for ratio in ("0p25", "0p5", "0p75"):  # run on child only
        assert by(rows, "accented", f"ssvd_o_k_fraction0p4_budget_ratio{ratio}")["status"] == results.MISSING
    lora = by(rows, "child", "lora_r16_alpha32")
    assert lora["trainable_pct"] == pytest.approx(100 * 16 * 25_000 / BASE_PARAMS, abs=1e-3)
    assert lora["gap_to_full_pct"] == pytest.approx(100 * (22.0 - 20.0) / 20.0)
    assert lora["dev_wer"] == 21.0 and lora["hyperparameters"] == {"r": 16, "alpha": 32, "lr": 0.003}
    assert by(rows, "accented", "lora_r4_alpha8")["gap_to_full_pct"] == pytest.approx(100 * (16.0 - 12.0) / 12.0, abs=1e-3)
    zero = [r for r in rows if r["method"] == "zero_shot"]
    assert [(r["domain"], r["target_wer"], r["trainable_params"]) for r in zero] == [("child", 60.0, 0),
                                                                                   ("accented", 16.0, 0)]
    # within a method, hyperparameters sort numerically (r4 before r16)
    child_lora = [r["tag"] for r in rows if r["domain"] == "child" and r["method"] == "lora"]
    assert child_lora == ["lora_r4_alpha8", "lora_r16_alpha32"]


def test_markdown_and_csv_show_runs_without_numbers(exp):
    rows = results.collect(exp)
    md = writers.write_tables(rows, exp).read_text()
    child = md.split("## base_adult: accented")[0]
    assert "| dev WER |" in child  # one child run was decoded on its dev set
    # method | hyperparameters | M | % | dev | test | source | gap | time | memory
    assert "| dora | r=8, α=16, lr=0.003 | – | – | – | failed | failed | – | – | – |" in child
    assert (f"- `adapt_child_dora_r8_alpha16`: failed: see {exp}/adapt_child_dora_r8_alpha16/train.log "
            "(RuntimeError: CUDA out of memory while training)") in child
    assert "| pissa | r=8, α=8, lr=0.003 | – | – | – | unfinished | unfinished | – |" in child
    assert "| ssvd | k=40%, lr=0.003 | 0.090 | 3.00 | – | not decoded | not decoded | – | 30 | 1200 |" in child
    assert "| s2lora | r=8, lr=0.003 | – | – | – | missing | missing | – |" in child
    assert "`adapt_child_s2lora_r8`: missing: planned in" in child
    assert "| lora | r=16, α=32, lr=0.003 | 0.400 | 13.33 | 21.0 | 22.0 | 14.0 | +10.0 | 30 | 1200 |" in child
    accented = md.split("## base_adult: accented")[1]
    assert accented.count("| ssvd_o |") == 3 and "was run on child but not on accented" in accented
    table = list(csv.DictReader(io.StringIO((exp / "results.csv").read_text())))
    # per domain zero-shot, full, 2 LoRA, 3 SSVD-O and 4 runs without numbers (on accented: all 7 missing)
    assert len(table) == len(rows) == 2 * (1 + 1 + 2 + 3 + 4)
    statuses = [r["status"] for r in table]
    assert statuses.count("missing") == 1 + 7 and statuses.count("failed") == 1
    failed = next(r for r in table if r["status"] == "failed")
    assert failed["target_wer"] == "" and "train.log" in failed["note"]
    # score.json files from before intervals: numbers alone, empty lo/hi, and nothing ranked
    assert all(r[f"{c}_{end}"] == "" for r in table for c in ("dev_wer", "target_wer", "source_wer")
               for end in ("lo", "hi"))
    assert "- Target test WER: lowest point estimate full (lr=0.0005), 20.0; it has no interval" in child


INTERVALS = {"adapt_child_full": (20.0, (18.5, 21.5)), "adapt_child_lora_r16_alpha32": (22.0, (20.0, 24.0)),
             "adapt_child_lora_r4_alpha8": (24.0, (22.5, 25.5)), "base_adult": (60.0, (57.0, 63.0)),
             "adapt_child_ssvd_o_k_fraction0p4_budget_ratio0p25": (23.0, (21.9, 24.1)),
             "adapt_child_ssvd_o_k_fraction0p4_budget_ratio0p5": (22.5, (21.0, 24.0)),
             "adapt_child_ssvd_o_k_fraction0p4_budget_ratio0p75": (23.5, (22.4, 24.6))}


def add_intervals(exp):
    """Stage 8's intervals on every child test score; a source dev WER for one run."""
    for run, (wer, ci) in INTERVALS.items():
        write_score(exp / run / "decode_child_test", wer, ci)
    write_score(exp / "adapt_child_full/decode_adult_test", 12.0, (11.0, 13.0))
    write_score(exp / "adapt_child_lora_r16_alpha32/decode_adult_dev", 9.0, (8.0, 10.0))


def test_tables_show_intervals_and_rank_only_resolved_differences(exp):
    add_intervals(exp)
    rows = results.collect(exp)
    md = writers.write_tables(rows, exp).read_text()
    assert "No run is marked best" in md.split("## ")[0]  # the rule, in the header
    child = md.split("## base_adult: accented")[0]
    assert "| dev WER | test WER | source dev WER | source WER |" in child
    # dev from an old score.json (number alone), test and source dev with intervals
    assert "| lora | r=16, α=32, lr=0.003 | 0.400 | 13.33 | 21.0 | 22.0 (20.0–24.0) | 9.0 (8.0–10.0) | 14.0 |" in child
    assert ("- Target test WER: lowest point estimate full (lr=0.0005), 20.0 (18.5–21.5); intervals overlapping "
            "it (difference not resolved): lora (r=16, α=32, lr=0.003), ssvd_o (k=40%, outer=0.5, lr=0.003).") in child
    assert "- Source test WER: lowest point estimate zero_shot, 8.0; it has no interval" in child
    table = list(csv.DictReader(io.StringIO((exp / "results.csv").read_text())))
    lora = next(r for r in table if r["tag"] == "lora_r16_alpha32" and r["domain"] == "child")
    assert (lora["target_wer"], lora["target_wer_lo"], lora["target_wer_hi"]) == ("22.0", "20.0", "24.0")
    assert (lora["source_dev_wer"], lora["source_dev_wer_lo"], lora["dev_wer"], lora["dev_wer_lo"]) == \
        ("9.0", "8.0", "21.0", "")
    tex = (exp / "results.tex").read_text()
    assert _latex_problems(tex) == [] and "95 \\% bootstrap interval" in tex
    assert r"& 21.0 & 22.0 (20.0--24.0) & 9.0 (8.0--10.0) & 14.0 & $+10.0$ \\" in tex
    # narrower intervals resolve the lowest from every other run
    for run, (wer, _) in INTERVALS.items():
        write_score(exp / run / "decode_child_test", wer, (wer - 0.2, wer + 0.2))
    md = writers.write_tables(results.collect(exp), exp).read_text()
    assert ("- Target test WER: lowest point estimate full (lr=0.0005), 20.0 (19.8–20.2); resolved from every "
            "other run (no interval overlaps its own).") in md
    write_score(exp / "adapt_child_full/decode_child_test", 20.0, (21.0, 19.0))
    with pytest.raises(ValueError, match=r"adapt_child_full/decode_child_test/score.json: 'ci95' must be"):
        results.collect(exp)


def test_learning_vs_forgetting_has_error_bars_on_both_axes(exp, tmp_path, monkeypatch):
    from matplotlib.container import ErrorbarContainer

    add_intervals(exp)
    bars = {}

    def record(fig, stem):
        bars[Path(stem).name] = [[(c.get_label(), c.has_xerr, c.has_yerr) for c in ax.containers
                                  if isinstance(c, ErrorbarContainer)] for ax in fig.axes if ax.get_ylabel()]
        return []

    monkeypatch.setattr(plots, "save", record)
    rows = results.collect(exp)
    plots.learning_vs_forgetting(rows, tmp_path / "lf")
    plots.wer_vs_params(rows, tmp_path / "wp")
    child, accented = bars["lf"]
    assert ("full fine-tuning", True, True) in child  # source and target intervals
    assert ("LoRA", False, True) in child  # a target interval; its source score.json is old
    assert all(not x and not y for _, x, y in accented)  # old score.json files: no bars
    assert ("LoRA", False, True) in bars["wp"][0]


def _latex_problems(tex: str):
    """Structural checks a LaTeX run would also fail on, and booktabs usage."""
    problems = []
    stack = []
    for kind, env in re.findall(r"\\(begin|end)\{(\w+)\}", tex):
        if kind == "begin":
            stack.append(env)
        elif not stack or stack.pop() != env:
            problems.append(f"\\end{{{env}}} does not close the open environment")
    problems += [f"unclosed {env}" for env in stack]
    depth = 0
    for i, c in enumerate(tex):
        if c in "{}" and (i == 0 or tex[i - 1] != "\\"):
            depth += 1 if c == "{" else -1
            if depth < 0:
                problems.append(f"unbalanced }} at {i}")
                depth = 0
    if depth:
        problems.append("unbalanced {")
    allowed = {"begin", "end", "centering", "caption", "label", "toprule", "midrule", "bottomrule",
               "cmidrule", "multicolumn", "textit", "alpha", "mathrm", "par", "smallskip", "footnotesize",
               "usepackage", "textbackslash", "textasciitilde", "textasciicircum"}
    commands = set(re.findall(r"\\([A-Za-z]+)", tex.replace("\\\\", " ")))  # "\\" is a line break
    problems += [f"command \\{c} needs a package" for c in commands - allowed]
    for table in re.findall(r"\\begin\{tabular\}\{([lcr]+)\}(.*?)\\end\{tabular\}", tex, re.S):
        spec, body = table
        if not (body.index(r"\toprule") < body.index(r"\midrule") < body.index(r"\bottomrule")):
            problems.append("booktabs rules out of order")
        for line in body.splitlines():
            line = line.strip()
            if not line.endswith(r"\\"):
                continue
            cells = 1 + len(re.findall(r"(?<!\\)&", line))
            cells += sum(int(n) - 1 for n in re.findall(r"\\multicolumn\{(\d+)\}", line))
            if cells != len(spec):
                problems.append(f"{cells} cells for {len(spec)} columns: {line}")
            if re.search(r"(?<!\\)[_%#]", line):
                problems.append(f"unescaped special character: {line}")
    return problems


def test_latex_tables_are_well_formed(exp):
    rows = results.collect(exp)
    writers.write_tables(rows, exp)
    tex = (exp / "results.tex").read_text()
    assert tex.count(r"\begin{tabular}") == 2 and "\\textit{failed}" in tex and "\\textit{missing}" in tex
    assert _latex_problems(tex) == []
    assert r"LoRA & $r$=16, $\alpha$=32, lr=0.003 & 0.400 & 13.33 & 21.0 & 22.0 & 14.0 & $+10.0$ \\" in tex
    # the checks can fail: a dropped cell, an unbalanced environment, a package command
    broken = tex.replace(r"0.400 & 13.33", "0.400", 1)
    assert any("cells for" in p for p in _latex_problems(broken))
    assert any("unclosed" in p for p in _latex_problems(tex.replace(r"\end{table}", "", 1)))
    assert _latex_problems(tex.replace(r"\toprule", r"\hline\toprule", 1)) == [r"command \hline needs a package"]


def _is_drawn_png(path: Path) -> bool:
    from matplotlib.image import imread

    image = imread(path)
    ink = (image[..., :3] < 0.9).any(axis=-1).mean()  # share of non-white pixels
    return image.shape[0] > 200 and image.shape[1] > 300 and 0.01 < ink < 0.9


def rank_file(path: Path, method: str, shift: int) -> Path:
    layers = [{"name": f"encoder.encoders.{b}.{t}", "shape": [8, 8], "rank": (b + i + shift) % 5,
               "values": [1.0] * 4} for b in range(3) for i, t in enumerate(["self_attn.linear_q", "feed_forward.w_1"])]
    layers.append({"name": "decoder.output_layer", "shape": [30, 8], "rank": 2, "values": [0.5, 0.1]})
    return write(path, json.dumps({"method": method, "layers": layers}))


def test_plots_are_written_and_rerunning_changes_nothing(exp, tmp_path, capsys):
    rank_file(exp / "adapt_child_s2lora_r8_seen/ranks.json", "s2lora", 0)  # found in the run directory
    adalora = rank_file(tmp_path / "adalora.json", "adalora", 2)
    cmd = ["--exp_dir", str(exp), "--out_dir", str(tmp_path / "out"), "--ranks", str(adalora)]
    collect_results.main(cmd)
    printed = capsys.readouterr().out
    plots = tmp_path / "out/plots"
    names = ["wer_vs_params", "learning_vs_forgetting", "ssvd_o_budget", "training_curves", "rank_heatmap"]
    for name in names:
        png, pdf = plots / f"{name}.png", plots / f"{name}.pdf"
        assert f"plot: {png}" in printed
        assert _is_drawn_png(png), name
        assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 2000
    assert "results table:" in printed and (tmp_path / "out/results.tex").is_file()
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (tmp_path / "out").rglob("*.*")}
    collect_results.main(cmd)
    after = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (tmp_path / "out").rglob("*.*")}
    assert after == before


def test_no_budget_plot_without_a_sweep_and_labels_for_two_models(exp, tmp_path, capsys):
    for d in exp.glob("adapt_child_ssvd_o_*budget_ratio0p[27]*"):
        (d / "run.json").unlink()  # one SSVD-O budget ratio left
    (exp / "jobs/plan.txt").unlink()
    other = tmp_path / "exp2"
    write(other / "base_b/run.json", json.dumps({"role": "zero_shot", "method": "zero_shot", "domains": ["child"],
                                                 "test_sets": {"child": "child_test", "source": "adult_test"}}))
    collect_results.main(["--exp_dir", str(exp), "--label", "small", "--exp_dir", str(other), "--label", "big",
                          "--out_dir", str(tmp_path / "out")])
    printed = capsys.readouterr().out
    assert "## small: child" in printed and "## big: child" in printed
    assert "base size unknown" in printed  # the second model never trained: its zero-shot run is not decoded
    assert "| zero_shot | – | 0.000 | – | not decoded | not decoded |" in printed
    names = sorted(p.name for p in (tmp_path / "out/plots").glob("*.png"))
    assert "small_wer_vs_params.png" in names and not any("ssvd_o_budget" in n for n in names)
    with pytest.raises(SystemExit, match="--label given 1 times for 2"):
        collect_results.main(["--exp_dir", str(exp), "--exp_dir", str(other), "--label", "x"])


def test_plot_axes_name_the_error_rate_of_the_recipe(exp, tmp_path, monkeypatch):
    """Axes say CER where the recipe scores by character (score --metric cer)."""
    for score in exp.glob("*/decode_child_test/score.json"):  # child scored by character
        data = json.loads(score.read_text())
        score.write_text(json.dumps(dict(data, cer=data["wer"] / 2, metric="cer")))
    labels = {}

    def record(fig, stem):
        labels[Path(stem).name] = [(ax.get_xlabel(), ax.get_ylabel()) for ax in fig.axes if ax.get_ylabel()]
        return []

    monkeypatch.setattr(plots, "save", record)
    rows = results.collect(exp)
    plots.wer_vs_params(rows, tmp_path / "wp")
    plots.learning_vs_forgetting(rows, tmp_path / "lf")
    plots.hyperparameter_sweep(rows, "ssvd_o", tmp_path / "bs")
    assert [y for _, y in labels["wp"]] == ["target test CER (%)", "target test WER (%)"]  # child, accented
    assert labels["lf"][0][0].startswith("source test CER (%)") and "target test WER" in labels["lf"][1][1]
    assert [y for _, y in labels["bs"]] == ["test CER (%)"]


def test_epoch_summaries_parse_from_an_espnet_log(tmp_path):
    log = write(tmp_path / "train.log", "\n".join(ESPNET_EPOCH.format(e=e, tl=10 - e, vl=12 - e) for e in (1, 2))
                + "\n" + ESPNET_EPOCH.format(e=2, tl=1.5, vl=2.5) + "\n")  # epoch 2 again after a resume
    c = curves.read_curves(log)
    assert sorted(c) == [1, 2]
    assert c[1]["train"]["loss"] == 9.0 and c[1]["valid"]["wer"] == 0.983
    assert c[2]["train"]["loss"] == 1.5 and "time" not in c[2]["train"]


def test_rank_files_are_checked(tmp_path):
    good = json.loads(rank_file(tmp_path / "r.json", "s2lora", 0).read_text())
    layers, types, cells = ranks.rank_grid(good)
    assert layers == ["encoder.encoders.0", "encoder.encoders.1", "encoder.encoders.2", "decoder.output_layer"]
    assert types == ["self_attn.linear_q", "feed_forward.w_1", ranks.OTHER]
    assert cells["encoder.encoders.1", "feed_forward.w_1"] == 2
    magnitudes = ranks.rank_grid(good, "magnitude")[2]
    assert magnitudes["decoder.output_layer", ranks.OTHER] == pytest.approx((0.5 + 0.1) / 2)
    bad = dict(good, layers=[dict(good["layers"][0], rank="4")])
    with pytest.raises(ValueError, match=r"bad.json: layers\[0\] \(encoder.encoders.0.self_attn.linear_q\): 'rank'"):
        ranks.load_ranks(write(tmp_path / "bad.json", json.dumps(bad)))
    with pytest.raises(ValueError, match="'method' must be one of"):
        ranks.load_ranks(write(tmp_path / "m.json", json.dumps(dict(good, method="lora"))))


def test_reproduce_runs_the_grid_per_model_then_collects(tmp_path):
    """reproduce.sh --dry_run: the commands it would run for two released models."""
    import shutil
    import subprocess

    template = Path(__file__).resolve().parents[2] / "egs2/TEMPLATE/peft1"
    recipe = tmp_path / "recipe"
    shutil.copytree(template / "conf/tuning", recipe / "conf/tuning")
    write(recipe / "run.sh", "#!/bin/sh\nexit 0\n").chmod(0o755)
    cmd = [str(template / "reproduce.sh"), "--dry_run", "true", "--ngpu", "1",
           "--models", "owsm_v3.1_0.1b=/m/a.pth:/m/a.yaml owsm_v3.1_1b=/m/b.pth:/m/b.yaml"]
    proc = subprocess.run(cmd, cwd=recipe, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    runs = [line for line in proc.stdout.splitlines() if "./run.sh" in line]
    assert len(runs) == 2
    assert "--expdir exp/ssvd_paper/owsm_v3.1_0.1b" in runs[0] and "ssvd:k=153,239,320" in runs[0]
    assert "ssvd:k=227,256,292,341,409" in runs[1] and "--base_model /m/b.pth --base_train_config /m/b.yaml" in runs[1]
    assert all("--adapt_config conf/tuning/ssvd_paper/adapt.yaml" in r and r.endswith("--ngpu 1") for r in runs)
    assert ("collect_results --exp_dir exp/ssvd_paper/owsm_v3.1_0.1b --label owsm_v3.1_0.1b "
            "--exp_dir exp/ssvd_paper/owsm_v3.1_1b --label owsm_v3.1_1b --out_dir exp/ssvd_paper") in proc.stdout
    bad = subprocess.run(cmd[:-1] + ["owsm=/m/a.pth"], cwd=recipe, capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "expected label=checkpoint:config" in bad.stderr
