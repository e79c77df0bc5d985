"""Choosing each method's configuration on the dev sets (espnet_peft.results.selection,
espnet_peft.bin.select_configs) from experiment directories built here: the choice never
reads a test WER, ties are broken as documented, runs without dev WERs are listed but
not chosen. About a second."""

import json

import pytest

from espnet_peft.bin import select_configs
from espnet_peft.results import scan, selection
from helpers.experiments import make_run, write

TEST_COLUMNS = ("target_wer", "target_wer_ci", "source_wer", "source_wer_ci", "gap_to_full_pct")


@pytest.fixture
def exp(tmp_path):
    exp = tmp_path / "exp"
    write(exp / "base_adult/run.json", json.dumps({
        "role": "zero_shot", "method": "zero_shot", "domains": ["child", "accented"],
        "test_sets": {"child": "child_test", "accented": "accented_test", "source": "adult_test"}}))
    # LoRA: r=4 has the best test WERs, r=16 the best dev score, (13.5 + 10.5) / 2 against (15 + 11) / 2
    for r, (child, accented, tests) in {4: ((20, 10), (12, 10), 5.0), 16: ((18, 9), (12, 9), 30.0)}.items():
        for domain, (dev, source_dev) in (("child", child), ("accented", accented)):
            make_run(exp, domain, "lora", {"r": r, "alpha": 2 * r}, trainable=r * 1000,
                     wers={f"{domain}_dev": (dev, (dev - 1.0, dev + 1.0)), "adult_dev": source_dev,
                           f"{domain}_test": tests, "adult_test": tests})
    # SSVD-O on child: a tie broken by fewer parameters; one budget ratio without a source dev WER
    for ratio, trainable in ((0.25, 80_000), (0.5, 60_000), (0.75, 10_000)):
        make_run(exp, "child", "ssvd_o", {"budget_ratio": ratio}, trainable=trainable,
                 wers={"child_dev": 20.0, "child_test": 1.0, "adult_test": 1.0,
                       **({} if ratio == 0.75 else {"adult_dev": 10.0})})
    # DoRA: equal scores and parameters, broken by the run tag
    for alpha in (8, 16):
        make_run(exp, "child", "dora", {"r": 8, "alpha": alpha}, trainable=5000,
                 wers={"child_dev": 20.0, "adult_dev": 10.0})
    # PiSSA: r=2 has the better child score but no dev WERs on accented, where r=8 has both
    for r, child in ((2, 10.0), (8, 20.0)):
        make_run(exp, "child", "pissa", {"r": r, "alpha": r}, trainable=r * 1000,
                 wers={"child_dev": child, "adult_dev": child})
        make_run(exp, "accented", "pissa", {"r": r, "alpha": r}, trainable=r * 1000,
                 wers={"accented_test": 5.0, **({"accented_dev": 20.0, "adult_dev": 20.0} if r == 8 else {})})
    make_run(exp, "child", "full", trainable=3_000_000, wers={"child_test": 0.5, "adult_test": 0.5})  # no dev
    return exp


def chosen_tags(configs):
    return {c.method: c.tag for c in configs if c.chosen}


class WithoutTestWers(dict):
    """A result row whose test-set fields cannot be read."""

    def __getitem__(self, key):
        if key in TEST_COLUMNS:
            raise AssertionError(f"the selection read {key}")
        return super().__getitem__(key)

    def get(self, key, default=None):
        return self[key] if key in self else default


def test_the_choice_uses_dev_wers_and_never_test_wers(exp):
    rows = scan.collect(exp)
    configs = selection.select(rows)
    lora = {c.tag: c for c in configs if c.method == "lora"}
    assert lora["lora_r4_alpha8"].score == pytest.approx(13.0) and lora["lora_r16_alpha32"].score == pytest.approx(12.0)
    assert chosen_tags(configs)["lora"] == "lora_r16_alpha32"  # not r=4, the best on every test set
    assert chosen_tags(selection.select([WithoutTestWers(r) for r in rows])) == chosen_tags(configs)
    with pytest.raises(AssertionError, match="read target_wer"):
        WithoutTestWers(rows[0])["target_wer"]  # the guard itself works


def test_ties_and_missing_dev_wers(exp):
    configs = {(c.method, c.tag): c for c in selection.select(scan.collect(exp))}
    tags = chosen_tags(configs.values())
    assert tags["ssvd_o"] == "ssvd_o_budget_ratio0p5"  # equal scores: fewer trainable parameters
    assert tags["dora"] == "dora_r8_alpha16"  # equal scores and parameters: the first tag
    assert configs["ssvd_o", "ssvd_o_budget_ratio0p75"].not_eligible == \
        "no source dev error rate on child (not decoded)"
    assert tags["pissa"] == "pissa_r8_alpha8"  # r=2's better child score does not count alone
    assert configs["pissa", "pissa_r2_alpha2"].not_eligible == \
        "no target dev or source dev error rate on accented (not decoded)"
    assert "full" not in tags and configs["full", "full"].score is None
    assert "zero_shot" not in tags and configs["zero_shot", ""].run == "base_adult"  # dev sets not decoded


def test_select_configs_writes_the_table_and_the_chosen_configs(exp, tmp_path, capsys):
    select_configs.main(["--exp_dir", str(exp), "--out_dir", str(tmp_path / "out")])
    md = (tmp_path / "out/SELECTION.md").read_text()
    assert capsys.readouterr().out.startswith(md)
    header = md.split("## ")[0]
    assert "\n".join(selection.RULE) in header and "no test-set error rate is read" in header
    assert ("| method | hyperparameters | run | child dev WER | source dev WER (child run) | accented dev WER "
            "| source dev WER (accented run) | score | chosen |") in md
    assert "| lora | r=16, α=32, lr=0.003 | `lora_r16_alpha32` | 18.0 (17.0–19.0) | 9.0 | 12.0 (11.0–13.0) | 9.0 | 12.00 | ✓ |" in md
    assert "| lora | r=4, α=8, lr=0.003 | `lora_r4_alpha8` | 20.0 (19.0–21.0) | 10.0 | 12.0 (11.0–13.0) | 10.0 | 13.00 |  |" in md
    assert "- ssvd_o `ssvd_o_budget_ratio0p75`: not eligible: no source dev error rate on child (not decoded)" in md
    saved = json.loads((tmp_path / "out/selection.json").read_text())
    [model] = saved["chosen"]
    assert saved["chosen"][model]["lora"] == {
        "tag": "lora_r16_alpha32", "hyperparameters": {"r": 16, "alpha": 32, "lr": 0.003}, "score": 12.0,
        "dev": {"child": {"target_dev": 18.0, "source_dev": 9.0}, "accented": {"target_dev": 12.0, "source_dev": 9.0}},
        "exp_dirs": {"child": str(exp / "adapt_child_lora_r16_alpha32"),
                     "accented": str(exp / "adapt_accented_lora_r16_alpha32")}}
    assert saved["no_choice"][model]["full"] == {
        "full": "no configuration of full has both dev error rates on any target domain"}
    with pytest.raises(SystemExit, match="no runs"):
        select_configs.main(["--exp_dir", str(tmp_path / "out")])
