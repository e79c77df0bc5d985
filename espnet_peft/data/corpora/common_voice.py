"""Common Voice (Mozilla) English with the speakers' self-reported accents.

Layout as distributed (``<corpus_dir>`` is the language folder, e.g.
``cv-corpus-17.0-2024-03-15/en``, or a folder holding exactly one ``cv-corpus-*/en``)::

    clips/common_voice_en_<n>.mp3           MP3
    train.tsv, dev.tsv, test.tsv            the official splits, tab-separated with a
                                            header: client_id, path, sentence, ...,
                                            accents (``accent`` in older releases), ...

An utterance belongs to the domain when its accent field matches ``--accent`` (a
regular expression, searched; recent releases hold free-text labels joined by ``|``,
e.g. ``India and South Asia (India, Pakistan, Sri Lanka)``, older ones codes such as
``indian``). The official train / dev / test files give the splits. Speakers are
``cv<first 12 hex digits of client_id>``, utterance ids ``<speaker>-<clip name>``. The
MP3s are decoded with soundfile and resampled to 16 kHz WAV with sox. Sentences go
through the shared normalisation (hyphens as spaces, numbers as words, upper case).
"""

from __future__ import annotations

import csv
import logging
import re
from pathlib import Path

from espnet_peft.data.corpora import common

TSV = {"train": "train.tsv", "dev": "dev.tsv", "test": "test.tsv"}
log = logging.getLogger("espnet_peft.data.corpora.common_voice")


def locate(corpus_dir) -> Path:
    base = Path(corpus_dir) if corpus_dir else None
    if base is not None and base.is_dir() and not (base / "clips").is_dir():
        found = sorted(base.glob("cv-corpus-*/en"))
        if len(found) == 1:
            base = found[0]
    return common.find_root(base, ["clips", *TSV.values()], [], "Common Voice")


def read_split(path: Path, accent: re.Pattern):
    entries, other = [], 0
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        column = next((c for c in ("accents", "accent") if c in (reader.fieldnames or [])), None)
        missing = {"client_id", "path", "sentence"} - set(reader.fieldnames or [])
        if column is None or missing:
            raise common.CorpusLayoutError(
                f"Common Voice: {path} has columns {reader.fieldnames}; expected client_id, path, "
                "sentence and accents (or accent)")
        for row in reader:
            if not accent.search(row[column] or ""):
                other += 1
                continue
            speaker = "cv" + row["client_id"][:12]
            clip = row["path"]
            entries.append((f"{speaker}-{Path(clip).stem}", speaker,
                            common.normalize_text(row["sentence"], hyphens="space", ascii=True), clip))
    return entries, other


def prepare(corpus_dir, data_dir, domain: str, accent: str, wav_dir="wav", nj: int = 1):
    root = locate(corpus_dir)
    pattern = re.compile(accent)
    by_split = {}  # every file is read and checked before any audio is converted
    for split, name in TSV.items():
        entries, other = read_split(root / name, pattern)
        by_split[split] = [e for e in entries if e[2]]
        for _, _, _, clip in by_split[split]:
            if not (root / "clips" / clip).is_file():
                raise common.CorpusLayoutError(f"Common Voice: {root / name} names {clip}, missing from {root / 'clips'}")
        log.info("Common Voice %s: %d utterances with accent /%s/ (%d others)", name, len(by_split[split]), accent, other)
    splits = {}
    for split, entries in by_split.items():
        audio = common.prepare_audio([common.AudioItem(u, str(root / "clips" / c)) for u, _, _, c in entries],
                                     Path(wav_dir) / domain, nj)
        splits[split] = common.utterances(((u, s, t) for u, s, t, _ in entries), audio)
    return common.write_splits(data_dir, domain, splits, f"Common Voice (accent /{accent}/)")


def main(argv=None):
    parser = common.base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--accent", required=True, help="regular expression matched against the accent field")
    args = parser.parse_args(argv)
    prepare(args.corpus_dir, args.data_dir, args.domain, args.accent, args.wav_dir, args.nj)


def cli(argv=None):
    common.run_main(main, argv)


if __name__ == "__main__":
    cli()
