"""Stage 2's data checks: every kind of broken utterance is named with its id and file;
``stop`` fails with the whole list, ``skip`` drops them, lists them and logs the count."""

import numpy as np
import pytest
import soundfile as sf

from espnet_peft.recipe import format_data, tokens

FS = 16000


def tone(n=FS // 2, amp=0.3):
    return amp * np.sin(np.arange(n) * 2 * np.pi * 440 / FS)


@pytest.fixture
def broken_dir(tmp_path):
    """One good utterance per speaker plus one utterance for every kind of problem."""
    w = tmp_path / "wav"
    w.mkdir()
    sf.write(w / "good1.wav", tone(), FS)
    sf.write(w / "good2.wav", tone(), FS)
    sf.write(w / "rate.wav", tone(), 8000)
    sf.write(w / "stereo.wav", np.stack([tone(), tone()], 1), FS)
    sf.write(w / "empty.wav", np.zeros(0), FS)
    sf.write(w / "clip.wav", np.clip(4 * tone(), -1, 1), FS, subtype="PCM_16")
    (w / "garbage.wav").write_bytes(b"RIFF....not audio")
    wav = {"a-good1": "good1.wav", "a-rate": "rate.wav", "a-stereo": "stereo.wav",
           "a-empty": "empty.wav", "a-clip": "clip.wav", "a-garbage": "garbage.wav",
           "a-gone": "missing.wav", "a-notext": "good1.wav", "a-silent": "good1.wav",
           "b-good2": "good2.wav", "b-dup": "good2.wav"}
    text = {k: "hello world" for k in wav if k != "a-notext"}
    text["a-silent"] = ""
    text["b-noaudio"] = "where is my audio"
    d = tmp_path / "set"
    d.mkdir()
    (d / "wav.scp").write_text("".join(f"{k} {w / v}\n" for k, v in sorted(wav.items()))
                               + f"b-dup {w / 'good2.wav'}\n")
    (d / "text").write_text("".join(f"{k} {v}\n" for k, v in sorted(text.items())))
    (d / "utt2spk").write_text("".join(f"{k} {k[0]}\n" for k in sorted(wav)))
    return d


EXPECTED = {  # utterance -> words its problem report must contain
    "a-rate": "8000 Hz, expected 16000", "a-stereo": "2 channels, expected mono",
    "a-empty": "is empty", "a-clip": "clipped", "a-garbage": "cannot read",
    "a-gone": "missing.wav", "a-notext": "no transcript", "a-silent": "empty transcript",
    "b-noaudio": "no audio", "b-dup": "appears 2 times",
}


def test_stop_lists_every_problem_with_id_and_file(broken_dir):
    before = {p.name: p.read_text() for p in broken_dir.iterdir()}
    with pytest.raises(format_data.DataError) as err:
        format_data.format_dir(broken_dir)
    msg = str(err.value)
    assert "10 problem(s)" in msg and "--on_error skip" in msg
    for utt, words in EXPECTED.items():
        line = next((l for l in msg.splitlines() if l.strip().startswith(utt + ":")), None)
        assert line is not None and words in line, (utt, line)
    assert "a-good1" not in msg and "b-good2:" not in msg
    assert {p.name: p.read_text() for p in broken_dir.iterdir()} == before, "stop must not edit the dir"


def test_skip_keeps_the_good_utterances_and_lists_the_rest(broken_dir, capsys):
    assert format_data.format_dir(broken_dir, on_error="skip") == 2
    for name in ("wav.scp", "text", "utt2spk"):
        ids = [l.split()[0] for l in (broken_dir / name).read_text().splitlines()]
        assert ids == ["a-good1", "b-good2"], name
    assert (broken_dir / "spk2utt").read_text() == "a a-good1\nb b-good2\n"
    assert (broken_dir / "utt2num_samples").read_text() == f"a-good1 {FS // 2}\nb-good2 {FS // 2}\n"
    skipped = dict(l.split("\t") for l in (broken_dir / "skipped").read_text().splitlines())
    assert set(skipped) == set(EXPECTED)
    err = capsys.readouterr().err
    assert "skipped 10 utterance(s)" in err and "1 clipped" in err and "2 unreadable audio" in err


def test_clipping_threshold_is_configurable(broken_dir):
    good, problems = format_data.check_dir(broken_dir, max_clipped=1.0)
    assert "a-clip" in good and "a-clip" not in {u for u, _, _ in problems}


def test_a_missing_file_or_an_empty_result_is_an_error(tmp_path):
    with pytest.raises(format_data.DataError, match="wav.scp is missing"):
        format_data.format_dir(tmp_path)
    (tmp_path / "wav.scp").write_text(f"u1 {tmp_path}/none.wav\n")
    (tmp_path / "text").write_text("u1 hi\n")
    with pytest.raises(format_data.DataError, match="no usable utterances"):
        format_data.format_dir(tmp_path, on_error="skip")


def test_characters_outside_the_tokenizer_are_reported(tmp_path):
    train = tmp_path / "train_text"
    train.write_text("".join(f"u{i} the cat sat on the mat number {i % 3}\n" for i in range(40)))
    tokens.train_bpe(train, tmp_path / "tok", vocab_size=30)
    test = tmp_path / "test_text"
    test.write_text("t1 the cat sat\nt2 the ĉat sat on the mat\nt3 mat\n")
    unknown = tokens.check_coverage(test, tmp_path / "tok/bpe.model")
    assert unknown == {"t2": ["ĉ"]}


def test_token_check_stops_or_drops_the_utterances(tmp_path):
    train = tmp_path / "train_text"
    train.write_text("".join(f"u{i} the cat sat on the mat\n" for i in range(40)))
    tokens.train_bpe(train, tmp_path / "tok", vocab_size=25)
    d = tmp_path / "set"
    d.mkdir()
    (d / "text").write_text("s1-a the cat\ns1-b the ĉat\n")
    (d / "wav.scp").write_text("s1-a a.wav\ns1-b b.wav\n")
    (d / "utt2spk").write_text("s1-a s1\ns1-b s1\n")
    with pytest.raises(SystemExit, match=r"s1-b: .*text: characters 'ĉ'"):
        tokens.main(["--check", "--bpemodel", str(tmp_path / "tok/bpe.model"), "--data_dir", str(d)])
    assert tokens.check_dirs([d], tmp_path / "tok/bpe.model", "skip") == 1
    assert (d / "wav.scp").read_text() == "s1-a a.wav\n" and (d / "spk2utt").read_text() == "s1 s1-a\n"
    assert "s1-b\t" in (d / "skipped").read_text()


def test_bpe_covers_target_characters_and_test_sets_are_only_reported(tmp_path, capsys):
    src = tmp_path / "src_text"
    src.write_text("".join(f"u{i} the cat sat on the mat\n" for i in range(40)))
    tgt = tmp_path / "tgt_text"
    tgt.write_text("t1 a quiz\n")
    tokens.train_bpe(src, tmp_path / "tok", vocab_size=25, cover_texts=[tgt])
    assert tokens.check_coverage(tgt, tmp_path / "tok/bpe.model") == {}
    test = tmp_path / "test"
    test.mkdir()
    (test / "text").write_text("x1 the jam\n")
    assert tokens.check_dirs([], tmp_path / "tok/bpe.model", "stop", report_only=[test]) == 0
    assert "x1: " in capsys.readouterr().err and (test / "text").read_text() == "x1 the jam\n"


def test_the_recipe_command_reports_the_problems_without_a_traceback(broken_dir):
    """peft.sh stage 2 runs ``python -m espnet_peft.recipe format_data``."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "espnet_peft.recipe", "format_data", "--data_dir", str(broken_dir)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "format_data:" in proc.stderr and "a-stereo" in proc.stderr and "--on_error skip" in proc.stderr
