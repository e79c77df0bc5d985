"""L2-ARCTIC: CMU ARCTIC prompts read by 24 non-native speakers of English, four per
first language (Arabic, Mandarin, Hindi, Korean, Spanish, Vietnamese).

Layout as distributed (``<corpus_dir>`` holds the speaker folders, or ``l2arctic/``)::

    <SPEAKER>/wav/arctic_a0001.wav            44.1 kHz mono
    <SPEAKER>/transcript/arctic_a0001.txt     the prompt, one line
    (<SPEAKER>/annotation, <SPEAKER>/textgrid: not used)

The speakers' first languages (``SPEAKERS`` below) are those of the corpus'
README. Audio is resampled to 16 kHz with sox; utterance ids are
``<SPEAKER>_arctic_a0001``; each data directory also gets ``spk2l1`` (speaker -> L1)
for per-accent scoring. A wav without a transcript (or the reverse) is skipped and
counted.

Splits (speaker-disjoint, one speaker per L1 in each of dev and test): test speakers
NJS, TLV, TNI, TXHC, YKWK, ZHAA -- the test speakers common in L2-ARCTIC
mispronunciation-detection work --, dev speakers MBMPS, THV, SVBI, NCC, YDCK, YBAA (our
choice, one more per L1); the other twelve train. ``--test_speakers`` and
``--dev_speakers`` override them; ``--l1 "Arabic Hindi"`` keeps only some accents.
"""

from __future__ import annotations

import logging
from pathlib import Path

from espnet_peft.data.corpora import common

SPEAKERS = {  # speaker: first language, from the L2-ARCTIC README
    "ABA": "Arabic", "SKA": "Arabic", "YBAA": "Arabic", "ZHAA": "Arabic",
    "BWC": "Mandarin", "LXC": "Mandarin", "NCC": "Mandarin", "TXHC": "Mandarin",
    "ASI": "Hindi", "RRBI": "Hindi", "SVBI": "Hindi", "TNI": "Hindi",
    "HJK": "Korean", "HKK": "Korean", "YDCK": "Korean", "YKWK": "Korean",
    "EBVS": "Spanish", "ERMS": "Spanish", "MBMPS": "Spanish", "NJS": "Spanish",
    "HQTV": "Vietnamese", "PNV": "Vietnamese", "THV": "Vietnamese", "TLV": "Vietnamese",
}
TEST_SPEAKERS = "NJS TLV TNI TXHC YKWK ZHAA"
DEV_SPEAKERS = "MBMPS THV SVBI NCC YDCK YBAA"
log = logging.getLogger("espnet_peft.data.corpora.l2_arctic")


def speaker_dirs(root: Path):
    dirs = sorted(d for d in root.iterdir() if d.is_dir() and (d / "wav").is_dir())
    if not dirs:
        raise common.CorpusLayoutError(
            f"L2-ARCTIC: no speaker folders in {root}: expected <SPEAKER>/wav/*.wav and "
            f"<SPEAKER>/transcript/*.txt (speakers {', '.join(sorted(SPEAKERS))})")
    for d in dirs:
        if d.name not in SPEAKERS:
            raise common.CorpusLayoutError(
                f"L2-ARCTIC: unknown speaker folder {d} (known: {', '.join(sorted(SPEAKERS))})")
        if not (d / "transcript").is_dir():
            raise common.CorpusLayoutError(f"L2-ARCTIC: {d / 'transcript'} missing (expected <SPEAKER>/transcript/*.txt)")
    return dirs


def scan(spk_dir: Path):
    spk = spk_dir.name
    entries, unmatched = [], 0
    wavs = {p.stem: p for p in (spk_dir / "wav").glob("*.wav")}
    texts = {p.stem: p for p in (spk_dir / "transcript").glob("*.txt")}
    unmatched = len(set(wavs) ^ set(texts))
    for stem in sorted(set(wavs) & set(texts)):
        text = common.normalize_text(texts[stem].read_text(encoding="utf-8"), hyphens="space", ascii=True)
        if text:
            entries.append((f"{spk}_{stem}", spk, text, wavs[stem]))
    return entries, unmatched


def prepare(corpus_dir, data_dir, domain: str = "l2_arctic", wav_dir="wav", nj: int = 1,
            test_speakers: str = TEST_SPEAKERS, dev_speakers: str = DEV_SPEAKERS, l1: str = ""):
    base = Path(corpus_dir) if corpus_dir else None
    root = base
    if base is not None and base.is_dir() and not any((base / s / "wav").is_dir() for s in SPEAKERS):
        for cand in ("l2arctic", "l2arctic_release_v5.0", "L2-ARCTIC"):
            if (base / cand).is_dir():
                root = base / cand
    root = common.find_root(root, [], [], "L2-ARCTIC")
    test, dev = set(test_speakers.split()), set(dev_speakers.split())
    for name in test | dev:
        if name not in SPEAKERS:
            raise ValueError(f"L2-ARCTIC: unknown speaker {name!r} in --test_speakers/--dev_speakers")
    wanted_l1 = set(l1.split())
    splits = {s: [] for s in common.SPLITS}
    for d in speaker_dirs(root):
        if wanted_l1 and SPEAKERS[d.name] not in wanted_l1:
            continue
        entries, unmatched = scan(d)
        if unmatched:
            log.info("L2-ARCTIC %s: %d files without their wav or transcript skipped", d.name, unmatched)
        split = "test" if d.name in test else "dev" if d.name in dev else "train"
        audio = common.prepare_audio([common.AudioItem(u, str(f)) for u, _, _, f in entries],
                                     Path(wav_dir) / domain, nj)
        splits[split] += common.utterances(((u, s, t) for u, s, t, _ in entries), audio)
    counts = common.write_splits(data_dir, domain, splits, "L2-ARCTIC")
    for split, utts in splits.items():
        spks = sorted({u.speaker for u in utts})
        (Path(data_dir) / f"{domain}_{split}" / "spk2l1").write_text(
            "".join(f"{s} {SPEAKERS[s]}\n" for s in spks), encoding="utf-8")
    return counts


def main(argv=None):
    parser = common.base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--test_speakers", default=TEST_SPEAKERS)
    parser.add_argument("--dev_speakers", default=DEV_SPEAKERS)
    parser.add_argument("--l1", default="", help="keep only these first languages (e.g. 'Arabic Hindi')")
    args = parser.parse_args(argv)
    prepare(args.corpus_dir, args.data_dir, args.domain, args.wav_dir, args.nj,
            args.test_speakers, args.dev_speakers, args.l1)


def cli(argv=None):
    common.run_main(main, argv)


if __name__ == "__main__":
    cli()
