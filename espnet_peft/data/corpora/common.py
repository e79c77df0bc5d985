"""What the corpus modules share: layout checks, transcript normalisation, audio
preparation and the writing of ``<domain>_{train,dev,test}`` directories.

Transcript normalisation (:func:`normalize_text`), in this order:

1. Unicode NFKC; typographic quotes and dashes become ``'`` and ``-``;
2. the corpus' markup is removed *with its content* (regular expressions given by the
   corpus module, e.g. MyST's ``<no_signal>``, ``[laughter]``, ``(( ))``);
3. ``&`` -> ``and``, ``/`` -> ``slash``, ``%`` -> ``percent``; digit strings become
   English words (``inflect``; only when ``numbers_to_words``, i.e. English corpora);
4. a contraction split by a space (``I 'M``, ``THEY 'RE``) is joined (``I'M``);
5. hyphens and underscores: ``join`` (``ICE-CREAM`` -> ``ICECREAM``, ``WH-`` -> ``WH``,
   what ESPnet's MyST recipe does) or ``space`` (``ICE CREAM``);
6. every other character that is not a letter, a digit or an apostrophe inside a word
   becomes a space (punctuation goes; accented letters stay, unless ``ascii``, which
   transliterates ``é`` -> ``e`` as the ESPnet English recipes' ``iconv //TRANSLIT``);
7. case (``upper`` by default: ESPnet's English recipes score upper case) and single
   spaces. An utterance whose text is empty afterwards is dropped by the caller.

Chinese (``cjk``): NFKC turns full-width forms into half-width ones (``，`` -> ``,``,
``１２`` -> ``12``), punctuation (``。、《》`` included) goes as in step 6, digits stay
digits (no English number words, no ``&``/``%`` spelling), and the spaces next to a CJK
character are removed: Chinese is written without word spaces (AISHELL-1's segmented
transcripts become unsegmented) and is scored by character (CER).

Audio (:func:`prepare_audio`): stage 2 of ``peft.sh`` reads every file with soundfile
and wants 16 kHz mono. A file that already is a 16 kHz mono WAV/FLAC is used in place
(no copy: MyST's FLAC, LibriSpeech); anything else (CMU Kids' NIST SPHERE, L2-ARCTIC's
44.1 kHz WAV, Common Voice's MP3, which soundfile decodes first) and every segment of
a longer recording is converted with
``sox -D <src> -r 16000 -c 1 -b 16 <wav_dir>/<utt>.wav [trim]`` once (an existing
output is reused, so re-running is cheap).
"""

from __future__ import annotations

import argparse
import logging
import re
import shutil
import subprocess
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, Iterable, List, NamedTuple, Optional, Sequence

from espnet_peft.data.kaldi_dir import Utterance, write_data_dir

SAMPLE_RATE = 16000
SPLITS = ("train", "dev", "test")
log = logging.getLogger("espnet_peft.data.corpora")


class CorpusLayoutError(RuntimeError):
    """The corpus directory is missing or not laid out as the distribution is."""


# ---- layout -------------------------------------------------------------------------

def find_root(corpus_dir, expected: Sequence[str], candidates: Sequence[str], corpus: str) -> Path:
    """The directory under ``corpus_dir`` (itself or one of ``candidates``, relative)
    that holds every entry of ``expected``; else a :class:`CorpusLayoutError` naming
    what was looked for."""
    if not corpus_dir:
        raise CorpusLayoutError(f"{corpus}: no corpus directory given")
    base = Path(corpus_dir)
    if not base.is_dir():
        raise CorpusLayoutError(f"{corpus}: corpus directory {base} does not exist")
    tried = []
    for rel in ("", *candidates):
        root = base / rel if rel else base
        tried.append(str(root))
        if all((root / e).exists() for e in expected):
            return root
    raise CorpusLayoutError(
        f"{corpus}: {base} is not laid out as the distribution: expected "
        f"{', '.join(expected)} in one of {', '.join(tried)}")


def read_id_list(path) -> set:
    """One utterance id per line (first field; blank lines and ``#`` comments skipped)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"utterance list {path} not found")
    ids = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            ids.add(line.split()[0])
    return ids


def assign_splits(entries, split_dir=None) -> Dict[str, list]:
    """Entries ``(utt_id, speaker, ...)`` -> {split: entries}. With ``split_dir``: the ids
    listed in its ``train.list``, ``dev.list``, ``test.list``. Without: speaker-disjoint and
    deterministic -- speakers sorted, index % 10 == 0 to test, == 5 to dev, the rest train."""
    if split_dir:
        lists = {s: read_id_list(Path(split_dir) / f"{s}.list") for s in SPLITS}
        return {s: [e for e in entries if e[0] in ids] for s, ids in lists.items()}
    speakers = sorted({e[1] for e in entries})
    role = {spk: "test" if i % 10 == 0 else "dev" if i % 10 == 5 else "train"
            for i, spk in enumerate(speakers)}
    return {s: [e for e in entries if role[e[1]] == s] for s in SPLITS}


# ---- text ---------------------------------------------------------------------------

_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u02bc": "'", "`": "'",
                         "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-", "\u2010": "-"})
_SPLIT_CONTRACTION = re.compile(r"(?<=\w)\s+'(s|m|re|ve|ll|d|t)\b", re.IGNORECASE)
_inflect = None


def _number_words(match) -> str:
    global _inflect
    if _inflect is None:
        import inflect  # installed with ESPnet; imported only when a transcript has digits

        _inflect = inflect.engine()
    return " " + _inflect.number_to_words(match.group(), andword="").replace(",", "") + " "


_CJK = "[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]"
_SPACE_NEXT_TO_CJK = re.compile(f"(?<={_CJK}) | (?={_CJK})")


def normalize_text(text: str, markup: Sequence[str] = (), hyphens: str = "join",
                   numbers_to_words: bool = True, case: str = "upper", ascii: bool = False,
                   cjk: bool = False) -> str:
    """Normalise one transcript (the rules are in this module's docstring)."""
    if hyphens not in ("join", "space"):
        raise ValueError(f"hyphens must be 'join' or 'space', got {hyphens!r}")
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    for pattern in markup:
        # Repeated so that nested markup (``((a (b) c))``) goes too.
        previous = None
        while previous != text:
            previous, text = text, re.sub(pattern, " ", text)
    if not cjk:
        text = text.replace("&", " and ").replace("/", " slash ").replace("%", " percent ")
    if numbers_to_words and not cjk:
        text = re.sub(r"\d+", _number_words, text)
    text = _SPLIT_CONTRACTION.sub(lambda m: "'" + m.group(1), text)
    text = re.sub(r"[-_]", "" if hyphens == "join" else " ", text)
    if ascii:
        text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    words = []
    for word in re.sub(r"[^\w']", " ", text).split():
        word = word.replace("_", "").strip("'")  # quotes around a word are not apostrophes
        if word:
            words.append(word)
    text = " ".join(words)
    if cjk:
        text = _SPACE_NEXT_TO_CJK.sub("", text)
    if case == "upper":
        return text.upper()
    if case == "lower":
        return text.lower()
    return text


# ---- audio --------------------------------------------------------------------------

class AudioItem(NamedTuple):
    utt_id: str
    source: str                     # file as distributed
    start: Optional[float] = None   # segment of a longer recording, seconds
    end: Optional[float] = None


def _usable_in_place(path: str) -> bool:
    import soundfile as sf

    if Path(path).suffix.lower() not in (".wav", ".flac"):
        return False
    try:
        info = sf.info(path)
    except Exception:  # unreadable here: let sox try, and report its error
        return False
    return info.samplerate == SAMPLE_RATE and info.channels == 1


# Formats Debian's sox cannot read but libsndfile (soundfile) can: decoded to a
# temporary WAV first (Common Voice's MP3).
SOUNDFILE_DECODED = (".mp3",)


def _convert(item: AudioItem, out: Path) -> None:
    tmp = out.with_name(out.name + ".tmp.wav")
    source = item.source
    if Path(source).suffix.lower() in SOUNDFILE_DECODED:
        import soundfile as sf

        source = str(out.with_name(out.name + ".decoded.wav"))
        try:
            audio, rate = sf.read(item.source, dtype="float32")
        except Exception as e:
            raise RuntimeError(f"soundfile could not decode {item.source} for utterance {item.utt_id}: {e}")
        sf.write(source, audio, rate, subtype="PCM_16")
    cmd = ["sox", "-D", source, "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", str(tmp)]
    if item.start is not None:
        cmd += ["trim", f"{item.start:.3f}", f"={item.end:.3f}"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise RuntimeError(f"sox could not convert {item.source} for utterance {item.utt_id}: "
                           f"{proc.stderr.strip()}")
    if source != item.source:
        Path(source).unlink(missing_ok=True)
    tmp.replace(out)


def prepare_audio(items: Sequence[AudioItem], wav_dir, nj: int = 1) -> Dict[str, str]:
    """{utt_id: path of a 16 kHz mono file}; converts what is not (see module docstring)."""
    wav_dir = Path(wav_dir).resolve()
    out: Dict[str, str] = {}
    todo = []
    for item in items:
        if item.start is None and _usable_in_place(item.source):
            out[item.utt_id] = str(Path(item.source).resolve())
            continue
        dst = wav_dir / f"{item.utt_id}.wav"
        out[item.utt_id] = str(dst)
        if not (dst.is_file() and dst.stat().st_size > 44):
            todo.append((item, dst))
    if todo:
        if shutil.which("sox") is None:
            raise RuntimeError(f"{len(todo)} files need conversion to 16 kHz mono WAV, but sox is "
                               "not installed ('apt-get install sox')")
        wav_dir.mkdir(parents=True, exist_ok=True)
        log.info("converting %d audio files to 16 kHz mono WAV in %s", len(todo), wav_dir)
        with ThreadPoolExecutor(max_workers=max(1, nj)) as pool:
            list(pool.map(lambda job: _convert(*job), todo))
    return out


# ---- output -------------------------------------------------------------------------

def write_splits(data_dir, domain: str, splits: Dict[str, List[Utterance]], corpus: str) -> Dict[str, int]:
    """Write ``<data_dir>/<domain>_<split>`` for train, dev and test; an empty split is an
    error naming the corpus (a wrong path or an unexpected layout, usually)."""
    counts = {}
    for split in SPLITS:
        utts = splits.get(split, [])
        if not utts:
            raise CorpusLayoutError(f"{corpus}: no utterances for {domain}_{split}; "
                                    "check the corpus path, its layout and the split options")
        write_data_dir(Path(data_dir) / f"{domain}_{split}", utts)
        counts[split] = len(utts)
    log.info("%s -> %s_{train,dev,test}: %s utterances", corpus, domain,
             "/".join(str(counts[s]) for s in SPLITS))
    return counts


def utterances(entries: Iterable[tuple], audio: Dict[str, str]) -> List[Utterance]:
    """(utt_id, speaker, text) entries + prepared audio -> Kaldi utterances."""
    return [Utterance(u, s, audio[u], t) for u, s, t in entries]


def prepared_splits(split_entries: Dict[str, list], wav_dir, domain: str, nj: int = 1) -> Dict[str, List[Utterance]]:
    """{split: [(utt_id, speaker, text, source)]} -> {split: Kaldi utterances}, the audio
    prepared under ``<wav_dir>/<domain>``; ``source`` is a file or an :class:`AudioItem`
    (a segment of a longer recording)."""
    out = {}
    for split, entries in split_entries.items():
        items = [f if isinstance(f, AudioItem) else AudioItem(u, str(f)) for u, _, _, f in entries]
        audio = prepare_audio(items, Path(wav_dir) / domain, nj)
        out[split] = utterances(((u, s, t) for u, s, t, _ in entries), audio)
    return out


def parse_sets(spec: str) -> Dict[str, str]:
    """``train=<subset>,dev=<subset>,test=<subset>`` -> {split: subset} (the subsets of a
    source-domain corpus that feed each split; one subset may serve several)."""
    sets = {}
    for part in spec.split(","):
        split, _, subset = part.partition("=")
        if split.strip() not in SPLITS or not subset.strip():
            raise ValueError(f"--sets: expected '<train|dev|test>=<subset>,...', got {spec!r}")
        sets[split.strip()] = subset.strip()
    missing = [s for s in SPLITS if s not in sets]
    if missing:
        raise ValueError(f"--sets {spec!r} names no subset for {missing}")
    return sets


def base_parser(description: str) -> argparse.ArgumentParser:
    """Options every corpus module takes."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--corpus_dir", required=True, help="the corpus as distributed")
    parser.add_argument("--data_dir", default="data", help="where <domain>_<split> go")
    parser.add_argument("--domain", required=True, help="domain name: <data_dir>/<domain>_<split>")
    parser.add_argument("--wav_dir", default="wav", help="converted audio (only what needs it)")
    parser.add_argument("--nj", type=int, default=1, help="parallel sox conversions")
    return parser


def run_main(main, argv=None) -> None:
    """Run a corpus module's ``main`` with logging; layout errors end with one clear line."""
    import sys

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s",
                        datefmt="%H:%M:%S")
    try:
        main(argv)
    except (CorpusLayoutError, FileNotFoundError, ValueError) as e:
        print(f"ERROR: {e}", file=sys.stderr)
        sys.exit(1)
