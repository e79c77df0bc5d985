"""The demo corpus generator: deterministic, 16 kHz mono, sensible durations, and
transcripts drawn from the shipped word list."""

import hashlib
import shutil
from pathlib import Path

import pytest
import soundfile as sf

from espnet_peft.data import mini_synth
from espnet_peft.data.kaldi_dir import read_table

WORDS = Path(__file__).resolve().parents[2] / "egs2/mini_synth/peft1/local/words.txt"
SIZES = {"adult_train": 4, "adult_test": 2, "child_train": 3, "accented_test": 3}

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None or shutil.which("sox") is None,
                                reason="needs espeak-ng and sox")


def _digest(data_dir: Path):
    out = {}
    for key in sorted(SIZES):
        for utt, wav in read_table(data_dir / key / "wav.scp").items():
            out[utt] = hashlib.sha256(Path(wav).read_bytes()).hexdigest()
    return out


def test_generation_is_deterministic_and_well_formed(tmp_path):
    counts = mini_synth.generate(WORDS, tmp_path / "a", tmp_path / "wav_a", seed=3, sizes=SIZES)
    assert counts == SIZES
    mini_synth.generate(WORDS, tmp_path / "b", tmp_path / "wav_b", seed=3, sizes=SIZES)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    for name in ("text", "utt2spk", "spk2utt"):
        assert (tmp_path / "a/child_train" / name).read_text() == (tmp_path / "b/child_train" / name).read_text()

    mini_synth.generate(WORDS, tmp_path / "c", tmp_path / "wav_c", seed=4, sizes=SIZES)
    assert read_table(tmp_path / "a/adult_train/text") != read_table(tmp_path / "c/adult_train/text")

    lexicon = mini_synth.read_lexicon(WORDS)
    words = set(sum(lexicon.values(), [])) | {w for t in mini_synth.TEMPLATES for w in t.split()}
    for key, n in SIZES.items():
        texts = read_table(tmp_path / "a" / key / "text")
        wavs = read_table(tmp_path / "a" / key / "wav.scp")
        assert len(texts) == len(wavs) == n and set(texts) == set(wavs)
        for utt, text in texts.items():
            assert 4 <= len(text.split()) <= 6 and set(text.split()) <= words
            info = sf.info(wavs[utt])
            assert info.samplerate == 16000 and info.channels == 1
            assert 0.5 < info.duration < 10.0, (utt, info.duration)
        spk = read_table(tmp_path / "a" / key / "utt2spk")
        assert all(utt.startswith(s) and s.startswith(key.split("_")[0]) for utt, s in spk.items())


def test_child_speech_is_faster_and_higher_than_adult(tmp_path):
    """The child domain is the adult voices through sox pitch/tempo: same sentence
    plans, shorter audio and a higher spectral centroid."""
    import numpy as np

    lexicon = mini_synth.read_lexicon(WORDS)
    plans = mini_synth.plan_split("child", "train", 6, lexicon, seed=0)
    assert all(p.effects[0] == "pitch" and 500 <= int(p.effects[1]) <= 700 for p in plans)
    assert all(1.05 <= float(p.effects[3]) <= 1.25 for p in plans)
    ratios, centroids = [], []
    from espnet_peft.data.synth import synthesize
    for p in plans[:3]:
        adult = synthesize(p.text, tmp_path / f"{p.utt_id}_a.wav", voice=p.voice, speed=p.speed, pitch=p.pitch)
        child = synthesize(p.text, tmp_path / f"{p.utt_id}_c.wav", voice=p.voice, speed=p.speed,
                           pitch=p.pitch, sox_effects=p.effects)
        a, c = sf.read(adult)[0], sf.read(child)[0]
        ratios.append(len(c) / len(a))

        def centroid(x):
            spec = np.abs(np.fft.rfft(x))
            return float((spec * np.arange(len(spec))).sum() / spec.sum() / len(spec))
        centroids.append(centroid(c) / centroid(a))
    assert all(r < 0.97 for r in ratios), ratios
    assert all(c > 1.05 for c in centroids), centroids


def test_bad_inputs_are_reported(tmp_path):
    bad = tmp_path / "words.txt"
    bad.write_text("noun cat\nnoun 42\n")
    with pytest.raises(ValueError, match="words.txt:2"):
        mini_synth.read_lexicon(bad)
    bad.write_text("noun cat\nadj red\n")
    with pytest.raises(ValueError, match="no words for categories"):
        mini_synth.read_lexicon(bad)
    with pytest.raises(ValueError, match="bad size"):
        mini_synth.parse_sizes("kids_train=3")
    assert mini_synth.parse_sizes("child_test=7")["child_test"] == 7
