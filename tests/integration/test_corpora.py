"""Corpus recipes: each egs2/<corpus>/peft1/local/data.sh (the real script, as a
subprocess) on a tiny fixture laid out like the distribution -- file names, formats,
transcript markup, tables --, with espeak-ng audio converted by sox into the corpus'
format (FLAC, NIST SPHERE, 44.1 kHz WAV). Checked: Kaldi directory validity, counts,
normalised text, readable 16 kHz mono audio, and clear errors for a missing corpus or a
wrong layout."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from espnet_peft.data.corpora.common import normalize_text
from espnet_peft.data.corpora import myst
from espnet_peft.data.kaldi_dir import read_table
from espnet_peft.data.synth import synthesize

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None or shutil.which("sox") is None,
                                reason="needs espeak-ng and sox")


# ---- fixture helpers ----------------------------------------------------------------

@pytest.fixture(scope="module")
def voice(tmp_path_factory):
    """Two short espeak-ng clips (16 kHz WAV) that the corpus fixtures convert."""
    d = tmp_path_factory.mktemp("voice")
    return [synthesize("the cat sat on the mat", d / "a.wav"),
            synthesize("a big dog ran home", d / "b.wav", voice="en-us")]


def audio(src: Path, dst: Path, rate: int = 16000, channels: int = 1) -> None:
    """``src`` converted by sox into ``dst`` (format from the extension)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["sox", "-D", str(src), "-r", str(rate), "-c", str(channels), str(dst)], check=True)


def write(path: Path, text: str, encoding="utf-8") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding=encoding)


def run_data_sh(corpus: str, *args, env=None):
    """egs2/<corpus>/peft1/local/data.sh run from its recipe directory, as peft.sh does."""
    recipe = ROOT / "egs2" / corpus / "peft1"
    full_env = {k: v for k, v in os.environ.items() if k not in ("MYST", "LIBRISPEECH")}
    full_env.update(env or {})
    return subprocess.run(["local/data.sh", "--python", sys.executable, *map(str, args)],
                          cwd=recipe, env=full_env, capture_output=True, text=True, timeout=300)


def check_kaldi_dir(d: Path, n_utts: int) -> dict:
    """ESPnet's validate_data_dir checks (no features): files present, sorted, one id set,
    spk2utt the inverse of utt2spk, ids prefixed by their speaker, audio 16 kHz mono."""
    tables = {}
    for name in ("wav.scp", "text", "utt2spk", "spk2utt"):
        lines = (d / name).read_text(encoding="utf-8").splitlines()
        keys = [line.split(" ", 1)[0] for line in lines]
        assert keys == sorted(keys) and len(set(keys)) == len(keys), f"{d / name} not sorted/unique"
        tables[name] = read_table(d / name)
    ids = set(tables["wav.scp"])
    assert len(ids) == n_utts, f"{d}: {len(ids)} utterances, expected {n_utts}"
    assert set(tables["text"]) == ids == set(tables["utt2spk"])
    spk2utt = {s: sorted(u.split()) for s, u in tables["spk2utt"].items()}
    inverse = {}
    for utt, spk in tables["utt2spk"].items():
        assert utt.startswith(spk), f"{utt} does not start with its speaker {spk}"
        inverse.setdefault(spk, []).append(utt)
    assert spk2utt == {s: sorted(u) for s, u in inverse.items()}
    for utt, wav in tables["wav.scp"].items():
        info = sf.info(wav)
        assert (info.samplerate, info.channels) == (16000, 1), f"{utt}: {wav} {info.samplerate} Hz"
        assert info.frames > 1600
        assert tables["text"][utt].strip()
    return tables["text"]


def librispeech_fixture(root: Path, voice) -> Path:
    """LibriSpeech/<subset>/<reader>/<chapter>/: FLAC + <reader>-<chapter>.trans.txt."""
    for subset, reader, chapter in (("dev-clean", "84", "121123"), ("test-clean", "1089", "134686")):
        d = root / "LibriSpeech" / subset / reader / chapter
        lines = []
        for i, src in enumerate(voice):
            utt = f"{reader}-{chapter}-{i:04d}"
            audio(src, d / f"{utt}.flac")
            lines.append(f"{utt} {'HE HOPED THERE WOULD BE STEW' if i else 'GO DO YOU HEAR'}")
        write(d / f"{reader}-{chapter}.trans.txt", "\n".join(lines) + "\n")
    write(root / "LibriSpeech" / "README.TXT", "LibriSpeech ASR corpus\n")
    return root


def check_librispeech(data: Path) -> None:
    for split in ("train", "dev", "test"):
        text = check_kaldi_dir(data / f"librispeech_{split}", 2)
    assert text["1089-134686-0000"] == "GO DO YOU HEAR"


# ---- text normalisation -------------------------------------------------------------

def test_normalisation_rules():
    # MyST markup goes with its content; fillers stay words; digits become words.
    assert myst.normalize("(()) um the <no_signal> magnet [laughter] sticks {breath} (*) "
                          "to ((the)) nail +um+") == "UM THE MAGNET STICKS TO NAIL"
    assert myst.normalize("it's 2 wh- what I 'M saying, ice-cream!") == "IT'S TWO WH WHAT I'M SAYING ICECREAM"
    assert myst.normalize("<no_signal>") == ""
    assert normalize_text("\u201cCaf\u00e9\u201d & 'quoted' it\u2019s", hyphens="space", ascii=True) == \
        "CAFE AND QUOTED IT'S"
    # Dutch keeps its letters, no English number words.
    assert normalize_text("een café, twee-ëntje 3", numbers_to_words=False, hyphens="space",
                          case="lower") == "een café twee ëntje 3"


# ---- MyST ---------------------------------------------------------------------------

def myst_fixture(root: Path, voice) -> Path:
    """myst_child_conv_speech/data/{train,development,test}/<student>/<session>/*.flac + .trn"""
    base = root / "myst_child_conv_speech"
    write(base / "index.html", "<html>MyST</html>\n")
    write(base / "docs" / "README.txt", "My Science Tutor\n")
    plan = {  # partition: [(student, session, n, transcript or None)]
        "train": [("002030", "myst_002030_2014-02-28_00-37-33_MX_1.1", 1, "um the magnet (()) sticks"),
                  ("002030", "myst_002030_2014-02-28_00-37-33_MX_1.1", 2, "<no_signal>"),
                  ("002030", "myst_002030_2014-02-28_00-37-33_MX_1.1", 3, None),
                  ("002031", "myst_002031_2014-03-04_10-11-12_EE_2.1", 1, "it has 2 batteries [laughter]"),
                  ("002031", "myst_002031_2014-03-04_10-11-12_EE_2.1", 2, "the bulb lights up")],
        "development": [("004029", "myst_004029_2013-11-18_09-03-05_EE_1.1", 1, "the circuit is closed"),
                        ("004029", "myst_004029_2013-11-18_09-03-05_EE_1.1", 2, "<side_speech> yes")],
        "test": [("005001", "myst_005001_2013-12-02_10-21-41_SMS_1.3", 1, "wh- water evaporates"),
                 ("005002", "myst_005002_2013-12-03_09-52-03_SMS_1.4", 1, "(*) it gets colder")],
    }
    for partition, utts in plan.items():
        for i, (student, session, n, trn) in enumerate(utts):
            d = base / "data" / partition / student / session
            audio(voice[i % 2], d / f"{session}_{n:03d}.flac")
            if trn is not None:
                write(d / f"{session}_{n:03d}.trn", trn + "\n")
    return root


def test_myst_recipe_data(tmp_path, voice):
    corpus = myst_fixture(tmp_path / "myst", voice)
    libri = librispeech_fixture(tmp_path / "libri", voice)
    drop = tmp_path / "drop.txt"
    drop.write_text("myst_002031_2014-03-04_10-11-12_EE_2.1_002\n")
    data = tmp_path / "data"
    proc = run_data_sh("myst", "--datadir", data, "--wav_dir", tmp_path / "wav", "--filter_list", drop,
                       env={"MYST": str(corpus), "LIBRISPEECH": str(libri)})
    assert proc.returncode == 0, proc.stderr
    train = check_kaldi_dir(data / "myst_train", 2)   # minus no .trn, only markup, filtered
    assert train == {"myst_002030_2014-02-28_00-37-33_MX_1.1_001": "UM THE MAGNET STICKS",
                     "myst_002031_2014-03-04_10-11-12_EE_2.1_001": "IT HAS TWO BATTERIES"}
    assert read_table(data / "myst_train" / "utt2spk")["myst_002030_2014-02-28_00-37-33_MX_1.1_001"] == "myst_002030"
    dev = check_kaldi_dir(data / "myst_dev", 2)
    assert dev["myst_004029_2013-11-18_09-03-05_EE_1.1_002"] == "YES"
    test = check_kaldi_dir(data / "myst_test", 2)
    assert sorted(test.values()) == ["IT GETS COLDER", "WH WATER EVAPORATES"]
    # FLAC at 16 kHz is used in place: nothing converted.
    assert read_table(data / "myst_test" / "wav.scp")["myst_005001_2013-12-02_10-21-41_SMS_1.3_001"].endswith(".flac")
    check_librispeech(data)


def test_missing_or_misplaced_corpus_is_named(tmp_path, voice):
    proc = run_data_sh("myst", "--datadir", tmp_path / "data", "--source_corpus", "none")
    assert proc.returncode != 0 and "MYST" in proc.stderr
    proc = run_data_sh("myst", "--datadir", tmp_path / "data", "--myst_dir", tmp_path / "nowhere",
                       "--source_corpus", "none")
    assert proc.returncode != 0 and "nowhere does not exist" in proc.stderr
    # A release without the development partition: the error names the expected layout.
    bad = tmp_path / "bad" / "data"
    audio(voice[0], bad / "train" / "1" / "s" / "myst_1_s_001.flac")
    (bad / "test").mkdir()
    proc = run_data_sh("myst", "--datadir", tmp_path / "data", "--myst_dir", bad.parent,
                       "--source_corpus", "none")
    assert proc.returncode != 0
    assert "expected train, development, test" in proc.stderr and "Traceback" not in proc.stderr



def test_myst_recipe_through_peft_sh_stage_2(tmp_path, voice):
    """run.sh -> peft.sh stages 1-2: the data directories pass the recipe's own audio and
    transcript checks (espnet_peft.recipe.format_data) into dump/raw."""
    corpus = myst_fixture(tmp_path / "myst", voice)
    libri = librispeech_fixture(tmp_path / "libri", voice)
    env = {k: v for k, v in os.environ.items() if k not in ("MYST", "LIBRISPEECH")}
    env.update(MYST=str(corpus), LIBRISPEECH=str(libri), PYTHON=sys.executable)
    proc = subprocess.run(
        ["./run.sh", "--stop_stage", "2", "--datadir", str(tmp_path / "data"), "--dumpdir", str(tmp_path / "dump"),
         "--expdir", str(tmp_path / "exp"), "--local_data_opts", f"--wav_dir {tmp_path / 'wav'}"],
        cwd=ROOT / "egs2/myst/peft1", env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name, n in (("myst_train", 3), ("myst_dev", 2), ("myst_test", 2), ("librispeech_test", 2)):
        assert f"{tmp_path / 'dump/raw' / name}: {n} utterances checked" in proc.stdout
        assert len(read_table(tmp_path / "dump/raw" / name / "utt2num_samples")) == n

# ---- CMU Kids -----------------------------------------------------------------------

def cmu_kids_fixture(root: Path, voice) -> Path:
    """cmu_kids/{0readme.1st, doc/, kids/<spk>/{signal/*.sph, trans/*.trn}, tables/sentence.tbl}"""
    base = root / "cmu_kids"
    write(base / "0readme.1st", "CMU Kids corpus\n")
    write(base / "doc" / "kids.doc", "documentation\n")
    write(base / "tables" / "sentence.tbl",
          "1ab\t12\tThe dog ran home.\n2aq\t3\tShe said, \"Look at 3 cats!\"\n", encoding="latin-1")
    for i, (spk, utt, trn) in enumerate([("fabm", "fabm1ab1", "THE DOG RAN /HH OW M/ HOME [noise]"),
                                         ("fabm", "fabm2aq2", "SHE SAID LOOK AT THREE CATS"),
                                         ("mglp", "mglp1ab2", "THE DOG [breath] RAN HOME"),
                                         ("fnjs", "fnjs2aq1", "SHE SAID LOOK AT THREE CATS")]):
        audio(voice[i % 2], base / "kids" / spk / "signal" / f"{utt}.sph")
        write(base / "kids" / spk / "trans" / f"{utt}.trn", trn + "\n", encoding="latin-1")
    return root


def test_cmu_kids_recipe_data(tmp_path, voice):
    corpus = cmu_kids_fixture(tmp_path / "db", voice)
    assert (corpus / "cmu_kids/kids/fabm/signal/fabm1ab1.sph").read_bytes().startswith(b"NIST_1A")
    lists = tmp_path / "lists"
    write(lists / "train.list", "fabm1ab1\nfabm2aq2\n")
    write(lists / "dev.list", "mglp1ab2\n")
    write(lists / "test.list", "fnjs2aq1\n")
    data = tmp_path / "data"
    proc = run_data_sh("cmu_kids", "--datadir", data, "--wav_dir", tmp_path / "wav", "--cmu_kids_dir", corpus,
                       "--split_dir", lists, "--source_corpus", "none")
    assert proc.returncode == 0, proc.stderr
    train = check_kaldi_dir(data / "cmu_kids_train", 2)
    assert train == {"fabm1ab1": "THE DOG RAN HOME", "fabm2aq2": "SHE SAID LOOK AT THREE CATS"}
    assert check_kaldi_dir(data / "cmu_kids_dev", 1) == {"mglp1ab2": "THE DOG RAN HOME"}
    check_kaldi_dir(data / "cmu_kids_test", 1)
    # SPHERE -> 16 kHz WAV under --wav_dir
    assert read_table(data / "cmu_kids_test" / "wav.scp")["fnjs2aq1"] == str(tmp_path / "wav/cmu_kids/fnjs2aq1.wav")

    # The .trn transcripts instead of the prompts: markup and phonetic spellings go.
    proc = run_data_sh("cmu_kids", "--datadir", tmp_path / "data_trn", "--wav_dir", tmp_path / "wav",
                       "--cmu_kids_dir", corpus, "--split_dir", lists, "--source_corpus", "none",
                       "--text_source", "trans")
    assert proc.returncode == 0, proc.stderr
    assert check_kaldi_dir(tmp_path / "data_trn" / "cmu_kids_train", 2)["fabm1ab1"] == "THE DOG RAN HOME"

    # Without tables/sentence.tbl the layout error names it.
    (corpus / "cmu_kids/tables/sentence.tbl").unlink()
    proc = run_data_sh("cmu_kids", "--datadir", tmp_path / "d2", "--cmu_kids_dir", corpus, "--source_corpus", "none")
    assert proc.returncode != 0 and "tables/sentence.tbl" in proc.stderr and "Traceback" not in proc.stderr



# ---- OGI Kids -----------------------------------------------------------------------

def test_ogi_kids_recipe_data(tmp_path, voice):
    """cslu_kids/{docs/all.map, speech/scripted/<grade>/<n>/<spk>/<spk><prompt><n>.wav, trans/, verify/},
    spontaneous part: speech/spontaneous/<grade>/<n>/<spk>/<utt>.wav + trans/spontaneous/.../<utt>.txt"""
    base = tmp_path / "db" / "cslu_kids"
    write(base / "docs" / "all.map", '00 "one"\n0a "The dog is big."\n1b "I can see 2 birds"\n')
    for d in ("labels", "misc", "verify"):
        (base / d).mkdir(parents=True)
    for i, utt in enumerate(["ks0010a0", "ks0011b0", "ks0020a0", "ks003zz0", "ks0030a0"]):
        spk = utt[:5]
        audio(voice[i % 2], base / "speech" / "scripted" / "00" / "0" / spk / f"{utt}.wav")
    spontaneous = {"ks004xx0": "\ufeff<bn> i like my dog* (um) and [cat] <ln>\r\nsecond line\r\n",
                   "ks005xx0": "we play (( )) outside <sil>", "ks006xx0": None}   # no transcript: skipped
    for i, (utt, trn) in enumerate(spontaneous.items()):
        audio(voice[i % 2], base / "speech" / "spontaneous" / "01" / "1" / utt[:5] / f"{utt}.wav")
        if trn is not None:
            write(base / "trans" / "spontaneous" / "01" / "1" / utt[:5] / f"{utt}.txt", trn)
    lists = tmp_path / "lists"
    write(lists / "train.list", "ks0010a0\nks0011b0\nks004xx0\n")
    write(lists / "dev.list", "ks0020a0\n")
    write(lists / "test.list", "ks0030a0\nks003zz0\nks005xx0\n")
    data = tmp_path / "data"
    proc = run_data_sh("ogi_kids", "--datadir", data, "--wav_dir", tmp_path / "wav", "--ogi_kids_dir", base.parent,
                       "--split_dir", lists, "--source_corpus", "none")
    assert proc.returncode == 0, proc.stderr
    assert check_kaldi_dir(data / "ogi_kids_train", 2) == {"ks0010a0": "THE DOG IS BIG", "ks0011b0": "I CAN SEE TWO BIRDS"}
    assert check_kaldi_dir(data / "ogi_kids_dev", 1) == {"ks0020a0": "THE DOG IS BIG"}
    assert check_kaldi_dir(data / "ogi_kids_test", 1) == {"ks0030a0": "THE DOG IS BIG"}   # prompt "zz" is not in all.map
    # Both parts: the spontaneous transcripts without their markup, in the listed splits.
    proc = run_data_sh("ogi_kids", "--datadir", tmp_path / "both", "--wav_dir", tmp_path / "wav", "--ogi_kids_dir",
                       base.parent, "--split_dir", lists, "--source_corpus", "none", "--parts", "both")
    assert proc.returncode == 0, proc.stderr
    assert check_kaldi_dir(tmp_path / "both/ogi_kids_train", 3)["ks004xx0"] == "I LIKE MY DOG AND CAT"
    assert check_kaldi_dir(tmp_path / "both/ogi_kids_test", 2)["ks005xx0"] == "WE PLAY OUTSIDE"
    (base / "docs" / "all.map").unlink()
    proc = run_data_sh("ogi_kids", "--datadir", tmp_path / "d2", "--ogi_kids_dir", base.parent, "--source_corpus", "none")
    assert proc.returncode != 0 and "docs/all.map" in proc.stderr
    # The spontaneous part alone needs no all.map; without trans/spontaneous it names it.
    shutil.rmtree(base / "trans")
    proc = run_data_sh("ogi_kids", "--datadir", tmp_path / "d3", "--ogi_kids_dir", base.parent, "--source_corpus", "none",
                       "--parts", "spontaneous")
    assert proc.returncode != 0 and "trans/spontaneous" in proc.stderr and "Traceback" not in proc.stderr

# ---- L2-ARCTIC ----------------------------------------------------------------------

def l2_arctic_fixture(root: Path, voice) -> Path:
    """<SPEAKER>/{wav/arctic_*.wav (44.1 kHz), transcript/arctic_*.txt, annotation/, textgrid/}"""
    write(root / "README.md", "L2-ARCTIC\n")
    prompts = {"arctic_a0001": "Author of the danger trail, Philip Steels, etc.",
               "arctic_a0002": "Not at this particular case, Tom, apologized Whittemore."}
    for i, spk in enumerate(["ABA", "YBAA", "ZHAA"]):       # train, dev, test (Arabic)
        for j, (stem, text) in enumerate(prompts.items()):
            audio(voice[(i + j) % 2], root / spk / "wav" / f"{stem}.wav", rate=44100)
            write(root / spk / "transcript" / f"{stem}.txt", text)
            write(root / spk / "annotation" / f"{stem}.TextGrid", "")
        (root / spk / "textgrid").mkdir()
    # A recording without its transcript is skipped.
    audio(voice[0], root / "ABA" / "wav" / "arctic_b0539.wav", rate=44100)
    return root


def test_l2_arctic_recipe_data(tmp_path, voice):
    corpus = l2_arctic_fixture(tmp_path / "l2arctic", voice)
    assert sf.info(str(corpus / "ABA/wav/arctic_a0001.wav")).samplerate == 44100
    data = tmp_path / "data"
    proc = run_data_sh("l2_arctic", "--datadir", data, "--wav_dir", tmp_path / "wav",
                       "--l2_arctic_dir", corpus, "--source_corpus", "none")
    assert proc.returncode == 0, proc.stderr
    train = check_kaldi_dir(data / "l2_arctic_train", 2)
    assert train["ABA_arctic_a0001"] == "AUTHOR OF THE DANGER TRAIL PHILIP STEELS ETC"
    assert set(check_kaldi_dir(data / "l2_arctic_dev", 2)) == {"YBAA_arctic_a0001", "YBAA_arctic_a0002"}
    test = check_kaldi_dir(data / "l2_arctic_test", 2)
    assert test["ZHAA_arctic_a0002"] == "NOT AT THIS PARTICULAR CASE TOM APOLOGIZED WHITTEMORE"
    assert (data / "l2_arctic_test" / "spk2l1").read_text() == "ZHAA Arabic\n"

    # A folder that is not an L2-ARCTIC speaker: named, with the known ones.
    (corpus / "XYZ" / "wav").mkdir(parents=True)
    proc = run_data_sh("l2_arctic", "--datadir", tmp_path / "d2", "--l2_arctic_dir", corpus, "--source_corpus", "none")
    assert proc.returncode != 0 and "unknown speaker folder" in proc.stderr and "ABA" in proc.stderr


# ---- CGN ----------------------------------------------------------------------------

def textgrid(duration: float, tiers: dict) -> bytes:
    """A Praat TextGrid in long text format; tiers: {name: [(start, end, text)]}."""
    out = ['File type = "ooTextFile"', 'Object class = "TextGrid"', "", "xmin = 0 ",
           f"xmax = {duration} ", "tiers? <exists> ", f"size = {len(tiers)} ", "item []: "]
    for i, (name, intervals) in enumerate(tiers.items(), 1):
        out += [f"    item [{i}]:", '        class = "IntervalTier" ', f'        name = "{name}" ',
                "        xmin = 0 ", f"        xmax = {duration} ", f"        intervals: size = {len(intervals)} "]
        for j, (start, end, text) in enumerate(intervals, 1):
            out += [f"        intervals [{j}]:", f"            xmin = {start} ", f"            xmax = {end} ",
                    f'            text = "{text}" ']
    return ("\n".join(out) + "\n").encode("latin-1")


def cgn_fixture(root: Path, voice) -> Path:
    """data/audio/wav/comp-<c>/<vl|nl>/<rec>.wav + data/annot/text/ort/comp-<c>/<vl|nl>/<rec>.ort.gz"""
    import gzip

    write(root / "data/meta/text/speakers.txt", "ID\tsex\nV40001\tsex1\n")
    long = root / "long.wav"
    subprocess.run(["sox", "-D", str(voice[0]), str(voice[1]), str(voice[0]), str(long)], check=True)
    duration = sf.info(str(long)).duration
    for region, spk, recs in (("vl", "V40001", ["fv400001", "fv400002", "fv400003"]),
                              ("nl", "N01001", ["fn000001", "fn000002", "fn000003"])):
        for k, rec in enumerate(recs):
            audio(long, root / f"data/audio/wav/comp-o/{region}/{rec}.wav")
            grid = textgrid(duration, {
                spk: [(0, 0.4, ""), (0.4, duration / 2, "de kat zat ggg op de mat."),
                      (duration / 2, duration, "één café*v, we*a wel xxx goed?")],
                "COMMENT": [(0, duration, "achtergrondlawaai")],
            })
            path = root / f"data/annot/text/ort/comp-o/{region}/{rec}.ort.gz"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(gzip.compress(grid))
    return root


def test_cgn_recipe_data(tmp_path, voice):
    corpus = cgn_fixture(tmp_path / "CGN", voice)
    data = tmp_path / "data"
    proc = run_data_sh("cgn", "--datadir", data, "--wav_dir", tmp_path / "wav", "--cgn_dir", corpus,
                       "--components", "o", "--dev_every", 3, "--test_every", 3)
    assert proc.returncode == 0, proc.stderr
    for domain, spk, first in (("flemish", "V40001", "fv400001"), ("netherlandic", "N01001", "fn000001")):
        for split in ("train", "dev", "test"):
            text = check_kaldi_dir(data / f"{domain}_{split}", 2)   # one recording, two speaker turns
        test = check_kaldi_dir(data / f"{domain}_test", 2)
        assert test == {f"{spk}-{first}-0001": "de kat zat op de mat", f"{spk}-{first}-0002": "één café wel goed"}
    # Each turn is cut into its own file: about half the recording.
    wav = read_table(data / "flemish_test" / "wav.scp")["V40001-fv400001-0001"]
    assert abs(sf.info(wav).duration - (sf.info(str(corpus / "long.wav")).duration / 2 - 0.4)) < 0.01

    proc = run_data_sh("cgn", "--datadir", tmp_path / "d2", "--cgn_dir", corpus, "--components", "a")
    assert proc.returncode != 0 and "comp-<c>/vl/<recording>.ort.gz" in proc.stderr




# ---- AESRC2020 ----------------------------------------------------------------------

def test_aesrc2020_recipe_data(tmp_path, voice):
    """<Accent> English Speech Data/<speaker>/<utterance>.{wav,txt}"""
    root = tmp_path / "AESRC2020"
    plan = {"Indian English Speech Data": ["G00001", "G00002", "G00003"],
            "American English Speech Data": ["G10001", "G10002", "G10003"],
            "British English Speech Data": ["G20001"]}
    for accent, speakers in plan.items():
        for i, spk in enumerate(speakers):
            for j in (1, 2):
                audio(voice[(i + j) % 2], root / accent / spk / f"{spk}S{j:04d}.wav")
                write(root / accent / spk / f"{spk}S{j:04d}.txt", "Mr. Smith's car is on Main St.-ok?\n")
    audio(voice[0], root / "Indian English Speech Data" / "G00001" / "G00001S0009.wav")   # no .txt
    lists = tmp_path / "lists"
    write(lists / "train.list", "IND-G00001-G00001S0001\nIND-G00001-G00001S0002\nUS-G10001-G10001S0001\n")
    write(lists / "dev.list", "IND-G00002-G00002S0001\nUS-G10002-G10002S0001\n")
    write(lists / "test.list", "IND-G00003-G00003S0001\nIND-G00003-G00003S0002\nUS-G10003-G10003S0002\n")
    data = tmp_path / "data"
    proc = run_data_sh("aesrc2020", "--datadir", data, "--wav_dir", tmp_path / "wav", "--aesrc_dir", root,
                       "--split_dir", lists)
    assert proc.returncode == 0, proc.stderr
    train = check_kaldi_dir(data / "aesrc_accented_train", 2)
    assert train["IND-G00001-G00001S0001"] == "MR SMITH'S CAR IS ON MAIN ST OK"
    assert read_table(data / "aesrc_accented_train" / "utt2spk")["IND-G00001-G00001S0002"] == "IND-G00001"
    check_kaldi_dir(data / "aesrc_accented_dev", 1)
    check_kaldi_dir(data / "aesrc_accented_test", 2)
    assert set(check_kaldi_dir(data / "aesrc_us_test", 1)) == {"US-G10003-G10003S0002"}
    proc = run_data_sh("aesrc2020", "--datadir", tmp_path / "d2", "--aesrc_dir", root, "--target_accents", "KR",
                       "--source_domain", "none")
    assert proc.returncode != 0 and "Korean Speaking English Speech Data" in proc.stderr

# ---- Common Voice -------------------------------------------------------------------

def test_common_voice_recipe_data(tmp_path, voice):
    """cv-corpus-<v>/en/{clips/*.mp3, train.tsv, dev.tsv, test.tsv} with an accents column."""
    import numpy as np

    en = tmp_path / "db" / "cv-corpus-17.0-2024-03-15" / "en"
    (en / "clips").mkdir(parents=True)
    header = "client_id\tpath\tsentence_id\tsentence\tsentence_domain\tup_votes\tdown_votes\tage\tgender\taccents\tvariant\tlocale\tsegment"
    south_asia = "India and South Asia (India, Pakistan, Sri Lanka)"
    rows = {  # split: [(client, clip n, sentence, accents)]
        "train": [("a" * 64, 1, "It's 5 o'clock.", south_asia), ("b" * 64, 2, "Hello, world!", "United States English"),
                  ("c" * 64, 3, "Well-known words.", f"{south_asia}|British English")],
        "dev": [("d" * 64, 4, "A dev sentence.", south_asia), ("e" * 64, 5, "Another one.", "United States English")],
        "test": [("f" * 64, 6, "Test me now.", south_asia), ("0" * 64, 7, "Native test.", "United States English")],
    }
    for split, items in rows.items():
        lines = [header]
        for client, n, sentence, accents in items:
            clip = f"common_voice_en_{n}.mp3"
            data, rate = sf.read(str(voice[n % 2]))
            resampled = np.interp(np.arange(0, len(data), 16000 / 48000), np.arange(len(data)), data)
            sf.write(str(en / "clips" / clip), resampled.astype("float32"), 48000, format="MP3")
            lines.append("\t".join([client, clip, "x", sentence, "", "2", "0", "", "", accents, "", "en", ""]))
        write(en / f"{split}.tsv", "\n".join(lines) + "\n")
    assert sf.info(str(en / "clips/common_voice_en_1.mp3")).samplerate == 48000
    data = tmp_path / "data"
    proc = run_data_sh("common_voice", "--datadir", data, "--wav_dir", tmp_path / "wav", "--cv_dir", en.parent.parent)
    assert proc.returncode == 0, proc.stderr
    train = check_kaldi_dir(data / "cv_south_asia_train", 2)
    assert train == {"cvaaaaaaaaaaaa-common_voice_en_1": "IT'S FIVE O'CLOCK",
                     "cvcccccccccccc-common_voice_en_3": "WELL KNOWN WORDS"}
    check_kaldi_dir(data / "cv_south_asia_dev", 1)
    check_kaldi_dir(data / "cv_south_asia_test", 1)
    assert check_kaldi_dir(data / "cv_us_test", 1) == {"cv000000000000-common_voice_en_7": "NATIVE TEST"}
    # A release without the accent column is named as such.
    write(en / "dev.tsv", "client_id\tpath\tsentence\n")
    proc = run_data_sh("common_voice", "--datadir", tmp_path / "d2", "--wav_dir", tmp_path / "w2", "--cv_dir", en,
                       "--source_domain", "none")
    assert proc.returncode != 0 and "accents (or accent)" in proc.stderr
    assert not (tmp_path / "w2").exists()   # nothing converted before the check

# ---- EdAcc --------------------------------------------------------------------------

def edacc_fixture(root: Path, voice) -> Path:
    """edacc_v1.0/{data/<conv>.wav (32 kHz), dev|test/{segments,text,utt2spk,stm,conv.list},
    linguistic_background.csv, README.txt}: three turns per conversation, the last one read."""
    base = root / "edacc_v1.0"
    long = root / "conv.wav"
    root.mkdir(parents=True)
    subprocess.run(["sox", "-D", str(voice[0]), str(voice[1]), str(voice[0]), str(long)], check=True)
    d0, d1 = sf.info(str(voice[0])).duration, sf.info(str(voice[1])).duration
    turns = [(0.0, d0, "A"), (d0, d0 + d1, "B"), (d0 + d1, 2 * d0 + d1, "A")]
    plan = {"dev": {"EDACC-C01": ["um we went to <laugh> the 2 shops", "yeah well-known ones", "please call stella"],
                    "EDACC-C02_P1": ["first part", "i see <overlap>", "please call stella"],
                    "EDACC-C02_P2": ["second part", "okay", "please call stella"]},
            "test": {"EDACC-C03": ["hello there", "<laugh>", "please call stella"]}}
    for part, convs in plan.items():
        tables = {name: [] for name in ("segments", "text", "utt2spk", "stm")}
        for conv, texts in convs.items():
            audio(long, base / "data" / f"{conv}.wav", rate=32000)
            speaker = conv.split("_")[0]
            for n, ((start, end, side), text) in enumerate(zip(turns, texts), 1):
                utt, spk = f"{conv}-{n:09d}", f"{speaker}-{side}"
                tables["segments"].append(f"{utt} {conv} {start:.2f} {end:.2f}")
                tables["text"].append(f"{utt} {text}")
                tables["utt2spk"].append(f"{utt} {spk}")
                tag = "IGNORE_TIME_SEGMENT_IN_SCORING" if n == 3 else text
                tables["stm"].append(f"{conv} 1 {spk} {start:.2f} {end:.2f} <male,l2> {tag}")
        for name, lines in tables.items():
            write(base / part / name, "\n".join(lines) + "\n")
        write(base / part / "conv.list", "\n".join(convs) + "\n")
    accent = "How would you describe your accent in English? (e.g. Italian, Glaswegian)"
    write(base / "linguistic_background.csv", f'PARTICIPANT_ID,"{accent}",Other\n'
          "EDACC-C01-A,Nigerian,x\nEDACC-C01-B,Nigerian English,x\nEDACC-C02-A,Scottish,x\n"
          "EDACC-C02-B,Indian,x\nEDACC-C03-A, nigerian ,x\nEDACC-C03-B,Kenyan,x\n")
    write(base / "README.txt", "EdAcc v1.0\n")
    return root


def test_edacc_recipe_data(tmp_path, voice):
    corpus = edacc_fixture(tmp_path / "db", voice)
    data = tmp_path / "data"
    proc = run_data_sh("edacc", "--datadir", data, "--wav_dir", tmp_path / "wav", "--edacc_dir", corpus,
                       "--source_corpus", "none", "--dev_every", 2)
    assert proc.returncode == 0, proc.stderr
    # dev set: conversation C01 -> dev, C02 (both parts) -> train; read turns left out.
    train = check_kaldi_dir(data / "edacc_train", 4)
    assert train["EDACC-C02-B-EDACC-C02_P1-000000002"] == "I SEE"
    dev = check_kaldi_dir(data / "edacc_dev", 2)
    assert dev == {"EDACC-C01-A-EDACC-C01-000000001": "UM WE WENT TO THE TWO SHOPS",
                   "EDACC-C01-B-EDACC-C01-000000002": "YEAH WELL KNOWN ONES"}
    assert check_kaldi_dir(data / "edacc_test", 1) == {"EDACC-C03-A-EDACC-C03-000000001": "HELLO THERE"}
    assert (data / "edacc_dev" / "spk2accent").read_text() == "EDACC-C01-A Nigerian\nEDACC-C01-B Nigerian English\n"
    wav = read_table(data / "edacc_dev" / "wav.scp")["EDACC-C01-B-EDACC-C01-000000002"]
    assert abs(sf.info(wav).duration - sf.info(str(voice[1])).duration) < 0.02   # the turn, cut out at 16 kHz
    # An accent group; the read turns kept on request.
    proc = run_data_sh("edacc", "--datadir", tmp_path / "d3", "--wav_dir", tmp_path / "wav", "--edacc_dir", corpus,
                       "--source_corpus", "none", "--dev_every", 2, "--accents", "nigeria|scottish", "--keep_read", "true")
    assert proc.returncode == 0, proc.stderr
    assert set(check_kaldi_dir(tmp_path / "d3/edacc_train", 4)) == {
        f"EDACC-C02-A-EDACC-C02_P{p}-00000000{n}" for p in (1, 2) for n in (1, 3)}
    assert set(check_kaldi_dir(tmp_path / "d3/edacc_test", 2)) == {
        "EDACC-C03-A-EDACC-C03-000000001", "EDACC-C03-A-EDACC-C03-000000003"}
    (corpus / "edacc_v1.0/linguistic_background.csv").unlink()
    proc = run_data_sh("edacc", "--datadir", tmp_path / "d4", "--edacc_dir", corpus, "--source_corpus", "none")
    assert proc.returncode != 0 and "linguistic_background.csv" in proc.stderr and "Traceback" not in proc.stderr


# ---- ChildMandarin + AISHELL-1 (Mandarin) ----------------------------------------------

@pytest.fixture(scope="module")
def mandarin_voice(tmp_path_factory):
    """Two espeak-ng Mandarin (cmn) clips, 16 kHz WAV."""
    d = tmp_path_factory.mktemp("cmn")
    return [synthesize("妈妈你来啦", d / "a.wav", voice="cmn"), synthesize("我们去公园玩吧", d / "b.wav", voice="cmn")]


def childmandarin_fixture(root: Path, voice) -> Path:
    """ChildMandarin/{data/<spk>/<spk>_<age>_<gender>_<accent>_<city>_<device>_<nnn>.wav,
    baseline/data/<split>/text (+ wav.scp for dev and test)}."""
    base = root / "ChildMandarin"
    plan = {"train": [("071_5_F_L_WUHAN_iPhone_001", "妈妈，你来啦！"), ("154_4_M_L_CHENGDU_Android_012", "我想买１２个颜色的。")],
            "dev": [("080_5_F_L_CHENGDU_Android_068", "我们快回家吧！")],
            "test": [("008_5_M_L_NANJING_Android_043", "“先是这样，然后这样。”"), ("008_5_M_L_NANJING_Android_044", "。")]}
    for split, utts in plan.items():
        for i, (utt, _) in enumerate(utts):
            audio(voice[i % 2], base / "data" / utt.split("_")[0] / f"{utt}.wav")
        write(base / "baseline/data" / split / "text", "".join(f"{u}  {t}\n" for u, t in utts))
        if split != "train":
            write(base / "baseline/data" / split / "wav.scp",
                  "".join(f"{u} data/{u.split('_')[0]}/{u}.wav\n" for u, _ in utts))
    return root


def aishell_fixture(root: Path, voice) -> Path:
    """data_aishell/{wav/<dev|test>/<spk>/BAC009<spk>W<nnnn>.wav, transcript/aishell_transcript_v0.8.txt}"""
    base = root / "data_aishell"
    lines = []
    for subset, spk in (("dev", "S0724"), ("test", "S0764")):
        for i, text in enumerate(["而 对 楼市 成交 抑制 作用 最 大 的 限 购", "我们 去 公园 玩 吧"]):
            utt = f"BAC009{spk}W{121 + i:04d}"
            audio(voice[i], base / "wav" / subset / spk / f"{utt}.wav")
            lines.append(f"{utt} {text}")
    audio(voice[0], base / "wav" / "test" / "S0764" / "BAC009S0764W0200.wav")   # no transcript line
    write(base / "transcript" / "aishell_transcript_v0.8.txt", "\n".join(lines) + "\n")
    return root


def test_childmandarin_recipe_data(tmp_path, mandarin_voice):
    corpus = childmandarin_fixture(tmp_path / "db", mandarin_voice)
    aishell = aishell_fixture(tmp_path / "aishell", mandarin_voice)
    data = tmp_path / "data"
    proc = run_data_sh("childmandarin", "--datadir", data, "--wav_dir", tmp_path / "wav",
                       "--childmandarin_dir", corpus / "ChildMandarin", "--aishell_dir", aishell)
    assert proc.returncode == 0, proc.stderr
    # Full-width forms half-width, punctuation gone, no spaces; a transcript of punctuation only is dropped.
    assert check_kaldi_dir(data / "childmandarin_train", 2) == {"071_5_F_L_WUHAN_iPhone_001": "妈妈你来啦",
                                                                "154_4_M_L_CHENGDU_Android_012": "我想买12个颜色的"}
    check_kaldi_dir(data / "childmandarin_dev", 1)
    assert check_kaldi_dir(data / "childmandarin_test", 1) == {"008_5_M_L_NANJING_Android_043": "先是这样然后这样"}
    assert read_table(data / "childmandarin_test" / "utt2spk")["008_5_M_L_NANJING_Android_043"] == "008"
    # AISHELL-1: dev serves train and dev, segmented transcripts joined; W0200 has no transcript.
    for split in ("train", "dev"):
        check_kaldi_dir(data / f"aishell_{split}", 2)
    test = check_kaldi_dir(data / "aishell_test", 2)
    assert test == {"BAC009S0764W0121": "而对楼市成交抑制作用最大的限购", "BAC009S0764W0122": "我们去公园玩吧"}
    assert read_table(data / "aishell_test" / "utt2spk")["BAC009S0764W0121"] == "BAC009S0764"

    # Missing split lists and still-packed AISHELL audio are named.
    shutil.rmtree(corpus / "ChildMandarin/baseline")
    proc = run_data_sh("childmandarin", "--datadir", tmp_path / "d2", "--childmandarin_dir", corpus,
                       "--source_corpus", "none")
    assert proc.returncode != 0 and "train/text" in proc.stderr and "Traceback" not in proc.stderr
    shutil.rmtree(aishell / "data_aishell/wav/test")
    (aishell / "data_aishell/wav/test").mkdir()
    write(aishell / "data_aishell/wav/S0764.tar.gz", "")
    proc = run_data_sh("childmandarin", "--datadir", tmp_path / "d3", "--childmandarin_dir", tmp_path / "nowhere",
                       "--aishell_dir", aishell)
    assert proc.returncode != 0 and "nowhere does not exist" in proc.stderr
    from espnet_peft.data.corpora import aishell as aishell_prep
    with pytest.raises(aishell_prep.common.CorpusLayoutError, match="S0764.tar.gz.*unpack"):
        aishell_prep.prepare(aishell, tmp_path / "d4", wav_dir=tmp_path / "w4")


def test_character_scoring_for_mandarin(tmp_path):
    """score --metric cer: the CER (spaces ignored) is the recorded metric, the result rows
    take it and the tables name it; a Mandarin WER would count whole sentences."""
    from espnet_peft.recipe import score
    from espnet_peft.results import scan as results
    from espnet_peft.results import tables

    exp = tmp_path / "exp" / "zero_shot"
    write(exp / "run.json", json.dumps({"role": "zero_shot", "method": "zero_shot", "domain": "childmandarin",
                                        "test_sets": {"childmandarin": "childmandarin_test", "source": "aishell_test"}}))
    write(tmp_path / "ref", "u1 妈妈你来啦\nu2 我们去公园玩吧\n")
    for test_set in ("childmandarin_test", "aishell_test"):
        write(exp / f"decode_{test_set}" / "1best_recog" / "text", "u1 妈妈你来了\nu2 我们 去公园玩吧\n")
        score.main(["--decode_dir", str(exp / f"decode_{test_set}"), "--ref", str(tmp_path / "ref"), "--metric", "cer"])
    result = json.loads((exp / "decode_childmandarin_test" / "score.json").read_text())
    # 1 of 12 characters wrong; as words: two "words" wrong, one inserted by the stray space.
    assert result["metric"] == "cer" and result["cer"] == round(100 / 12, 2) and result["wer"] == 150.0
    assert "CER 8.33% (the reported metric)" in (exp / "decode_childmandarin_test" / "result.txt").read_text()
    [row] = results.collect(tmp_path / "exp", model="whisper")
    assert row["target_wer"] == row["source_wer"] == result["cer"] and row["metric"] == "cer"
    assert "| test CER | source CER |" in tables.markdown([row])


# ---- base models --------------------------------------------------------------------

def test_model_tables_agree_and_name_existing_architectures():
    """Each recipe's conf/models.yaml lists the models of espnet_peft.data.corpora.pretrained
    with the same repositories, and every architecture config it names exists and has
    the encoder/decoder shape keys count_params builds from."""
    import yaml

    from espnet_peft.data.corpora.pretrained import MODELS

    conf_dir = ROOT / "egs2/TEMPLATE/peft1/conf"
    for label, (repo, arch) in MODELS.items():
        if arch is not None:
            conf = yaml.safe_load((conf_dir / arch).read_text())
            # OWSM v3.1: E-Branchformer encoder; OWLS: Transformer encoder
            assert conf["encoder"] in ("e_branchformer", "transformer") and conf["decoder"] == "transformer"
            assert conf["encoder_conf"]["output_size"] and conf["decoder_conf"]["num_blocks"]
    for recipe in ("myst", "cmu_kids", "ogi_kids", "l2_arctic", "aesrc2020", "cgn", "common_voice", "edacc",
                   "childmandarin"):
        table = yaml.safe_load((ROOT / "egs2" / recipe / "peft1/conf/models.yaml").read_text())
        assert {k: (v["hf"], v["arch"]) for k, v in table.items()} == MODELS, recipe


def test_medium_architecture_layers_behind_the_ssvd_count(tmp_path):
    """The OWSM v3.1 medium shapes (d = 1024, 4096 units) with one block each side: the
    SSVD 40 % count of docs/reproducing.md's 31.9M check, layer by layer (k = 409 per 1024-wide
    layer, 83,845 parameters; the tiny output layers here have k = int(0.4 x 64) = 25)."""
    import yaml

    import espnet_peft
    from espnet_peft.integration.arch import build_base

    conf = yaml.safe_load((ROOT / "egs2/TEMPLATE/peft1/conf/owsm_v3.1_medium_arch.yaml").read_text())
    conf["encoder_conf"]["num_blocks"] = conf["decoder_conf"]["num_blocks"] = 1
    conf["vocab_size"] = 64
    (tmp_path / "arch.yaml").write_text(yaml.safe_dump(conf))
    model = build_base("s2t", str(tmp_path / "arch.yaml"))
    targets = ["linear_q", "linear_k", "linear_v", "linear_out", "w_1", "w_2",
               "channel_proj1.0", "channel_proj2", "merge_proj", "output_layer", "ctc_lo"]
    espnet_peft.inject_adapters(model, "ssvd", k_fraction=0.4, target_modules=targets)
    espnet_peft.mark_only_adapters_trainable(model)
    layers = {name for name, _ in espnet_peft.adapter_layers(model)}
    # encoder block: 4 attention + 2 x 2 (macaron) feed-forward + cgMLP 2 + merge 1; decoder block 4 + 4 + 2
    assert len(layers) == 11 + 10 + 2
    assert any(n.endswith("cgmlp.channel_proj1.0") for n in layers) and any(n.endswith("merge_proj") for n in layers)
    trainable, _ = espnet_peft.count_parameters(model)
    assert trainable == 21 * (409 * 408 // 2 + 409) + 2 * (25 * 24 // 2 + 25)
