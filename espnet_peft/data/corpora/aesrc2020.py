"""AESRC2020 (Interspeech 2020 Accented English Speech Recognition Challenge, Datatang):
read English from speakers of eight accents.

Layout as distributed (``<corpus_dir>`` holds the accent folders; the challenge
baseline's short names are accepted too)::

    <Accent> English Speech Data/<speaker>/<utterance>.wav    WAV
    <Accent> English Speech Data/<speaker>/<utterance>.txt    the transcript, one line

with the accent folders ``American English Speech Data`` (US), ``British ...`` (UK),
``Chinese Speaking ...`` (CHN), ``Indian ...`` (IND), ``Japanese Speaking ...`` (JPN),
``Korean Speaking ...`` (KR), ``Portuguese Speaking ...`` (PT), ``Russian Speaking ...``
(RU). ``--accents`` picks the accents of the domain (codes), e.g. ``IND`` for the target
and ``US`` (native speakers: the source domain) for forgetting. Ids as in the baseline:
speaker ``<code>-<speaker>``, utterance ``<code>-<speaker>-<utterance>``. A wav without
its ``.txt`` is skipped and counted.

Splits: the challenge's test set was released separately, so the training release is
split here: ``--split_dir`` with ``{train,dev,test}.list``, or speaker-disjoint (speakers
sorted, index % 10 == 0 test, == 5 dev).
"""

from __future__ import annotations

import logging
from pathlib import Path

from espnet_peft.data.corpora import common

ACCENTS = {
    "US": "American English Speech Data", "UK": "British English Speech Data",
    "CHN": "Chinese Speaking English Speech Data", "IND": "Indian English Speech Data",
    "JPN": "Japanese Speaking English Speech Data", "KR": "Korean Speaking English Speech Data",
    "PT": "Portuguese Speaking English Speech Data", "RU": "Russian Speaking English Speech Data",
}
log = logging.getLogger("espnet_peft.data.corpora.aesrc2020")


def accent_dir(root: Path, code: str) -> Path:
    for name in (ACCENTS[code], code):
        if (root / name).is_dir():
            return root / name
    raise common.CorpusLayoutError(
        f"AESRC2020: no folder for accent {code} in {root}: expected '{ACCENTS[code]}' (or '{code}') "
        f"holding <speaker>/<utterance>.wav + .txt")


def scan(root: Path, codes):
    entries, untranscribed = [], 0
    for code in codes:
        for wav in sorted(accent_dir(root, code).glob("*/*.wav")):
            txt = wav.with_suffix(".txt")
            if not txt.is_file():
                untranscribed += 1
                continue
            speaker = f"{code}-{wav.parent.name}"
            text = common.normalize_text(txt.read_text(encoding="utf-8", errors="replace"), hyphens="space", ascii=True)
            if text:
                entries.append((f"{speaker}-{wav.stem}", speaker, text, wav))
    if untranscribed:
        log.info("AESRC2020: %d wav files without a .txt skipped", untranscribed)
    return entries


def prepare(corpus_dir, data_dir, domain: str, accents: str, wav_dir="wav", nj: int = 1, split_dir=None):
    codes = accents.split()
    unknown = [c for c in codes if c not in ACCENTS]
    if not codes or unknown:
        raise ValueError(f"--accents: expected codes among {', '.join(ACCENTS)}, got {accents!r}")
    root = common.find_root(corpus_dir, [], ["AESRC2020"], "AESRC2020")
    splits = {}
    for split, entries in common.assign_splits(scan(root, codes), split_dir).items():
        audio = common.prepare_audio([common.AudioItem(u, str(f)) for u, _, _, f in entries],
                                     Path(wav_dir) / domain, nj)
        splits[split] = common.utterances(((u, s, t) for u, s, t, _ in entries), audio)
    return common.write_splits(data_dir, domain, splits, f"AESRC2020 ({accents})")


def main(argv=None):
    parser = common.base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--accents", required=True, help=f"accent codes: {' '.join(ACCENTS)}")
    parser.add_argument("--split_dir", default=None, help="train.list, dev.list, test.list")
    args = parser.parse_args(argv)
    prepare(args.corpus_dir, args.data_dir, args.domain, args.accents, args.wav_dir, args.nj, args.split_dir)


def cli(argv=None):
    common.run_main(main, argv)


if __name__ == "__main__":
    cli()
