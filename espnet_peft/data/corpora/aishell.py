"""AISHELL-1 (openslr.org/33, 178 h of read Mandarin from 400 adult speakers) as the
source domain of the Chinese recipes: the test set on which forgetting is measured.

Layout as distributed (``<corpus_dir>`` may be the folder holding ``data_aishell`` or
``data_aishell`` itself), once the per-speaker archives ``wav/S0002.tar.gz``... of
``data_aishell.tgz`` are unpacked in place, as Kaldi's and ESPnet's AISHELL recipes do::

    data_aishell/wav/<train|dev|test>/<speaker>/BAC009<speaker>W<nnnn>.wav   16 kHz mono
    data_aishell/transcript/aishell_transcript_v0.8.txt   "<utt> <word> <word> ..." (segmented)

120,098 / 14,326 / 7,176 utterances in train / dev / test (340 / 40 / 20 speakers); a
few recordings have no transcript line and are skipped (counted in the log).

``--sets train=dev,dev=dev,test=test`` (default) chooses the subset of each split: with
a pretrained base the source train/dev sets only feed ``collect_stats``, so the dev set
serves both; the test split is the forgetting measurement. Speakers are
``BAC009<speaker>`` (the prefix of the utterance ids); WAVs are used in place; the
word-segmented transcripts are normalised with the shared rules for Chinese
(``common.normalize_text(cjk=True)``: no spaces, no punctuation).
"""

from __future__ import annotations

import logging
from pathlib import Path

from espnet_peft.data.corpora import common

DEFAULT_SETS = "train=dev,dev=dev,test=test"
TRANSCRIPT = "transcript/aishell_transcript_v0.8.txt"
log = logging.getLogger("espnet_peft.data.corpora.aishell")


def read_transcript(path: Path) -> dict:
    texts = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        utt, _, text = line.strip().partition(" ")
        if utt:
            texts[utt] = common.normalize_text(text, cjk=True)
    return texts


def scan(subset_dir: Path, texts: dict):
    wavs = sorted(subset_dir.glob("*/*.wav"))
    if not wavs:
        packed = sorted(p.name for p in subset_dir.parent.glob("*.tar.gz"))[:3]
        hint = f" (found {', '.join(packed)}...: unpack the speaker archives in wav/ first)" if packed else ""
        raise common.CorpusLayoutError(
            f"AISHELL-1: no recordings in {subset_dir}: expected {subset_dir}/<speaker>/BAC009<speaker>W<nnnn>.wav{hint}")
    entries, untranscribed = [], 0
    for wav in wavs:
        spk_dir, utt = wav.parent.name, wav.stem
        if spk_dir not in utt:
            raise common.CorpusLayoutError(f"AISHELL-1: {wav}: expected a name holding its speaker folder {spk_dir!r}")
        if not texts.get(utt):
            untranscribed += 1
            continue
        entries.append((utt, utt[: utt.index(spk_dir) + len(spk_dir)], texts[utt], wav))
    if untranscribed:
        log.info("AISHELL-1: %d recordings in %s without a transcript skipped", untranscribed, subset_dir)
    return entries


def prepare(corpus_dir, data_dir, domain: str = "aishell", wav_dir="wav", nj: int = 1, sets: str = DEFAULT_SETS):
    chosen = common.parse_sets(sets)
    root = common.find_root(corpus_dir, [TRANSCRIPT] + [f"wav/{s}" for s in sorted(set(chosen.values()))],
                            ["data_aishell"], "AISHELL-1")
    texts = read_transcript(root / TRANSCRIPT)
    entries = {split: scan(root / "wav" / subset, texts) for split, subset in chosen.items()}
    return common.write_splits(data_dir, domain, common.prepared_splits(entries, wav_dir, domain, nj), "AISHELL-1")


def main(argv=None):
    parser = common.base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--sets", default=DEFAULT_SETS, help="subset (train, dev, test) of each split")
    args = parser.parse_args(argv)
    prepare(args.corpus_dir, args.data_dir, args.domain, args.wav_dir, args.nj, args.sets)


def cli(argv=None):
    common.run_main(main, argv)


if __name__ == "__main__":
    cli()
