"""Bootstrap intervals of error rates (espnet_peft.results.bootstrap) and what scoring
writes with them (score.json's ci95/bootstrap, utt_errors.tsv). Well under a second."""

import json

import numpy as np
import pytest

from espnet_peft.recipe import score
from espnet_peft.results import bootstrap


def simulated(n_utts, seed=0, speakers=None, words=12):
    """{utt: (errors, words)} with about 20 % errors; optionally grouped into speakers
    whose error rates differ (speaker k errs with probability 0.05 + 0.3 * k / speakers)."""
    rng = np.random.default_rng(seed)
    per_utt, utt2spk = {}, {}
    for i in range(n_utts):
        spk = i % speakers if speakers else 0
        p = 0.05 + 0.3 * spk / speakers if speakers else 0.2
        utt = f"s{spk:02d}-u{i:05d}"
        per_utt[utt] = (int(rng.binomial(words, p)), words)
        utt2spk[utt] = f"s{spk:02d}"
    return per_utt, utt2spk


def rate(per_utt):
    return 100 * sum(e for e, _ in per_utt.values()) / sum(n for _, n in per_utt.values())


def test_interval_contains_the_estimate_and_narrows_with_more_utterances():
    small, _ = simulated(40, seed=1)
    large, _ = simulated(1600, seed=2)
    widths = []
    for per_utt in (small, large):
        lo, hi = bootstrap.rate_interval(bootstrap.resampling_units(per_utt)[1])
        assert lo < rate(per_utt) < hi
        widths.append(hi - lo)
    # the standard error shrinks like 1/sqrt(n): 40 times the utterances, about 6 times narrower
    assert widths[1] < widths[0] / 3


def test_each_resample_recomputes_total_errors_over_total_words():
    # 30 one-word utterances all wrong, 30 forty-word ones all right: 30 / 1230 = 2.4 %
    # of the words are wrong, while the mean per-utterance rate is 50 %.
    per_utt = {f"short{i}": (1, 1) for i in range(30)} | {f"long{i}": (0, 40) for i in range(30)}
    lo, hi = bootstrap.rate_interval(bootstrap.resampling_units(per_utt)[1])
    assert lo < 100 * 30 / 1230 < hi < 5


def test_interval_is_deterministic_for_the_seed():
    per_utt, _ = simulated(200)
    units = bootstrap.resampling_units(per_utt)[1]
    assert bootstrap.rate_interval(units) == bootstrap.rate_interval(units)
    assert bootstrap.rate_interval(units, seed=0) != bootstrap.rate_interval(units, seed=1)
    # the units' order is sorted ids, so a reordered table gives the same interval
    reordered = dict(reversed(list(per_utt.items())))
    assert bootstrap.bootstrap(reordered) == bootstrap.bootstrap(per_utt)
    with pytest.raises(ValueError, match="no scored utterances"):
        bootstrap.rate_interval([])


def test_speakers_are_resampled_when_there_are_enough_of_them():
    per_utt, utt2spk = simulated(20 * 30, speakers=20)
    unit, units = bootstrap.resampling_units(per_utt, utt2spk)
    assert unit == "speaker" and len(units) == 20
    assert sum(e for e, _ in units) == sum(e for e, _ in per_utt.values())  # per-speaker totals
    by_utt = bootstrap.rate_interval(bootstrap.resampling_units(per_utt)[1])
    by_spk = bootstrap.rate_interval(units)
    # speakers differ, so utterances of one speaker are not independent: a wider interval
    assert by_spk[1] - by_spk[0] > 2 * (by_utt[1] - by_utt[0])
    few, few_spk = simulated(19 * 30, speakers=19)
    assert bootstrap.resampling_units(few, few_spk)[0] == "utterance"
    partial = dict(list(utt2spk.items())[1:])  # one utterance without a speaker
    assert bootstrap.resampling_units(per_utt, partial)[0] == "utterance"


def decode(tmp_path, refs, hyps, utt2spk=None):
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    (data / "text").write_text("".join(f"{u} {t}\n" for u, t in refs.items()))
    if utt2spk:
        (data / "utt2spk").write_text("".join(f"{u} {s}\n" for u, s in utt2spk.items()))
    (tmp_path / "dec/1best_recog").mkdir(parents=True, exist_ok=True)
    (tmp_path / "dec/1best_recog/text").write_text("".join(f"{u} {t}\n" for u, t in hyps.items()))
    return tmp_path / "dec", data / "text"


def test_score_dir_writes_the_interval_and_per_utterance_errors(tmp_path):
    refs = {f"spk{i % 25:02d}-{i:03d}": "the cat sat on the mat" for i in range(50)}
    hyps = {u: ("the cat sat on a mat" if i % 3 else "the cat sat") for i, u in enumerate(refs)}
    utt2spk = {u: u.split("-")[0] for u in refs}
    dec, ref = decode(tmp_path, refs, hyps, utt2spk)
    res = score.score_dir(dec, ref)
    saved = json.loads((dec / "score.json").read_text())
    assert saved == res
    assert saved["bootstrap"] == {"unit": "speaker", "units": 25, "resamples": bootstrap.RESAMPLES,
                                  "seed": bootstrap.SEED}
    lo, hi = saved["ci95"]
    assert lo <= saved["wer"] <= hi and lo < hi
    per_utt = bootstrap.read_utt_errors(dec / bootstrap.UTT_ERRORS)
    assert len(per_utt) == 50 and per_utt["spk00-000"] == ("spk00", 3, 6)
    assert sum(e for _, e, _ in per_utt.values()) == saved["sub"] + saved["del"] + saved["ins"]
    assert sum(n for _, _, n in per_utt.values()) == saved["ref_words"]
    assert "95 % interval" in (dec / "result.txt").read_text()
    (ref.parent / "utt2spk").unlink()  # no speakers known: utterances
    assert score.score_dir(dec, ref)["bootstrap"]["unit"] == "utterance"
    assert bootstrap.read_utt_errors(dec / bootstrap.UTT_ERRORS)["spk00-000"][0] == bootstrap.NO_SPEAKER


def test_cer_intervals_count_characters(tmp_path):
    refs = {"u1": "\u4f60\u597d\u4e16\u754c", "u2": "\u4f60\u597d"}
    dec, ref = decode(tmp_path, refs, {"u1": "\u4f60\u597d\u4e16", "u2": "\u4f60\u597d"})
    res = score.score_dir(dec, ref, metric="cer")
    assert res["cer"] == pytest.approx(100 / 6, abs=0.01) and res["ci95"][0] <= res["cer"] <= res["ci95"][1]
    assert bootstrap.read_utt_errors(dec / bootstrap.UTT_ERRORS)["u1"][1:] == (1, 4)


def test_bad_utt_errors_files_are_named(tmp_path):
    path = tmp_path / "utt_errors.tsv"
    path.write_text("utt\terrors\n")
    with pytest.raises(ValueError, match=r"utt_errors.tsv:1: expected the header"):
        bootstrap.read_utt_errors(path)
    path.write_text("\t".join(bootstrap.UTT_ERRORS_HEADER) + "\nu1\ts\t2\t5\nu2\ts\tx\t5\n")
    with pytest.raises(ValueError, match=r"utt_errors.tsv:3: .*'u2\\ts\\tx\\t5'"):
        bootstrap.read_utt_errors(path)
