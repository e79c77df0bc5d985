"""CGN (Corpus Gesproken Nederlands, Spoken Dutch Corpus): Flemish (``vl``) and
Netherlandic (``nl``) Dutch, as in the SSVD-O paper's regional-variety experiments.

Layout as distributed (``<corpus_dir>`` is the release root, holding ``data/``)::

    data/audio/wav/comp-<c>/<vl|nl>/<recording>.wav          16 kHz (comp-c, comp-d: 8 kHz telephone)
    data/annot/text/ort/comp-<c>/<vl|nl>/<recording>.ort.gz  orthographic transcript,
        a Praat TextGrid (long text format, Latin-1; also read uncompressed), one
        IntervalTier per speaker (named by the speaker id, e.g. ``V40035``) plus tiers
        such as ``COMMENT`` and ``BACKGROUND``

Components (``--components``, letters a-o) and the region (``--region vl`` or ``nl``)
select the recordings. Each non-empty interval of a speaker tier is an utterance
``<speaker>-<recording>-<nnnn>``, cut out of the recording into its own 16 kHz WAV
with sox (stage 2 of ``peft.sh`` reads whole files, no segments); telephone components
are upsampled. Tiers whose names are not speaker ids (``COMMENT``, ``BACKGROUND``,
``UNKNOWN``) are skipped.

Transcript normalisation (CGN protocol markup): ``ggg`` (speaker noise: laughing,
coughing), ``xxx``/``Xxx`` (unintelligible) and truncated words (``*a``) are removed;
the codes of other marked words are dropped and the word kept (``*v`` foreign, ``*d``
dialect, ``*z`` regional pronunciation, ``*n`` new word, ``*u`` mispronounced, ``*x``
uncertain); then the shared rules without English number words (hyphens become spaces,
punctuation goes, accented letters stay, lower case).

Splits: CGN defines none. Recordings are sorted by id; every 20th (index 0, 20, ...)
goes to test and every 20th from index 10 to dev, the rest to train (whole recordings,
so a speaker of one recording stays in one split; ``--dev_every/--test_every`` change
the period).
"""

from __future__ import annotations

import gzip
import logging
import re
from pathlib import Path
from typing import List, Tuple

from espnet_peft.data.corpora import common

REGIONS = ("vl", "nl")
SPEAKER_TIER = re.compile(r"^[NV]\d+$")
log = logging.getLogger("espnet_peft.data.corpora.cgn")


def normalize(text: str) -> str:
    words = []
    for word in text.split():
        core = re.sub(r"[^\w*]+$", "", word).lower()  # without trailing punctuation
        if core in ("ggg", "xxx") or core.endswith("*a"):
            continue
        words.append(re.sub(r"\*[a-z](?=[^\w*]*$)", "", word))
    return common.normalize_text(" ".join(words), hyphens="space", numbers_to_words=False, case="lower")


def read_textgrid(path: Path) -> List[Tuple[str, float, float, str]]:
    """(tier name, start, end, text) of every interval of a long-format TextGrid."""
    raw = gzip.open(path, "rb").read() if path.suffix == ".gz" else path.read_bytes()
    lines = raw.decode("latin-1").splitlines()
    if not lines or "ooTextFile" not in lines[0]:
        raise common.CorpusLayoutError(f"CGN: {path} is not a Praat TextGrid (expected 'File type = \"ooTextFile\"')")
    out, tier, tier_class, start, end = [], None, None, None, None
    for line in lines:
        key, _, value = line.strip().partition(" = ")
        if key == "class":
            tier_class = value.strip('"')
        elif key == "name":
            tier = value.strip().strip('"')
        elif key == "xmin":
            start = float(value)
        elif key == "xmax":
            end = float(value)
        elif key == "text" and tier_class == "IntervalTier":
            out.append((tier, start, end, value.strip()[1:-1].replace('""', '"')))
    return out


def scan(root: Path, components: str, region: str):
    """(utt_id, speaker, text, AudioItem) for every speaker interval with words."""
    entries = []
    for comp in components.split():
        ort_dir = root / "data/annot/text/ort" / f"comp-{comp}" / region
        wav_dir = root / "data/audio/wav" / f"comp-{comp}" / region
        if not ort_dir.is_dir():
            log.info("CGN: no comp-%s/%s in this release (%s); skipped", comp, region, ort_dir)
            continue
        for ort in sorted(ort_dir.glob("*.ort*")):
            rec = ort.name.split(".")[0]
            wav = wav_dir / f"{rec}.wav"
            if not wav.is_file():
                raise common.CorpusLayoutError(f"CGN: {ort} has no recording {wav}")
            n = 0
            for tier, start, end, text in read_textgrid(ort):
                if not SPEAKER_TIER.match(tier or "") or end <= start:
                    continue
                text = normalize(text)
                if text:
                    n += 1
                    utt = f"{tier}-{rec}-{n:04d}"
                    entries.append((utt, tier, text, common.AudioItem(utt, str(wav), start, end), rec))
    if not entries:
        raise common.CorpusLayoutError(
            f"CGN: no transcribed speech for region {region!r}, components {components!r} under {root}: "
            f"expected data/annot/text/ort/comp-<c>/{region}/<recording>.ort.gz and "
            f"data/audio/wav/comp-<c>/{region}/<recording>.wav")
    return entries


def prepare(corpus_dir, data_dir, domain: str, region: str, wav_dir="wav", nj: int = 1,
            components: str = "a b f g h i j k l m n o", dev_every: int = 20, test_every: int = 20):
    if region not in REGIONS:
        raise ValueError(f"--region must be one of {REGIONS}, got {region!r}")
    root = common.find_root(corpus_dir, ["data/annot/text/ort", "data/audio/wav"], ["CGN", "cgn"], "CGN")
    entries = scan(root, components, region)
    recordings = sorted({e[4] for e in entries})
    role = {}
    for i, rec in enumerate(recordings):
        role[rec] = ("test" if i % test_every == 0 else
                     "dev" if i % dev_every == dev_every // 2 else "train")
    splits = {}
    for split in common.SPLITS:
        chosen = [e for e in entries if role[e[4]] == split]
        audio = common.prepare_audio([e[3] for e in chosen], Path(wav_dir) / domain, nj)
        splits[split] = common.utterances(((u, s, t) for u, s, t, _, _ in chosen), audio)
    return common.write_splits(data_dir, domain, splits, f"CGN ({region})")


def main(argv=None):
    parser = common.base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--region", required=True, choices=REGIONS)
    parser.add_argument("--components", default="a b f g h i j k l m n o",
                        help="CGN component letters (c and d are 8 kHz telephone speech)")
    parser.add_argument("--dev_every", type=int, default=20)
    parser.add_argument("--test_every", type=int, default=20)
    args = parser.parse_args(argv)
    prepare(args.corpus_dir, args.data_dir, args.domain, args.region, args.wav_dir, args.nj,
            args.components, args.dev_every, args.test_every)


def cli(argv=None):
    common.run_main(main, argv)


if __name__ == "__main__":
    cli()
