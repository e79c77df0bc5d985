"""LibriSpeech (openslr.org/12) as the source domain of the English recipes: the test
set on which forgetting is measured.

Layout as distributed (``<corpus_dir>`` may be the folder holding ``LibriSpeech`` or
``LibriSpeech`` itself)::

    LibriSpeech/<subset>/<reader>/<chapter>/<reader>-<chapter>-<nnnn>.flac   16 kHz mono
    LibriSpeech/<subset>/<reader>/<chapter>/<reader>-<chapter>.trans.txt     "<utt> <TEXT>"

``--sets train=dev-clean,dev=dev-clean,test=test-clean`` (default) chooses the subset
of each split. With a pretrained base model (``run.sh --base_model``) the source train
and dev sets are only read by ``collect_stats`` (stage 4), so the small dev-clean
serves both; the test split is the forgetting measurement. Speakers are
``<reader>-<chapter>`` (Kaldi's LibriSpeech convention); FLAC files are used in place;
transcripts go through the shared normalisation (they are upper case already).
"""

from __future__ import annotations

import logging
from pathlib import Path

from espnet_peft.data.corpora import common

DEFAULT_SETS = "train=dev-clean,dev=dev-clean,test=test-clean"
log = logging.getLogger("espnet_peft.data.corpora.librispeech")


def scan(subset_dir: Path):
    entries = []
    for trans in sorted(subset_dir.glob("*/*/*.trans.txt")):
        reader, chapter = trans.parent.parent.name, trans.parent.name
        for n, line in enumerate(trans.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            utt, _, text = line.partition(" ")
            flac = trans.parent / f"{utt}.flac"
            if not flac.is_file():
                raise common.CorpusLayoutError(f"LibriSpeech: {trans}:{n} names {utt}, but {flac} is missing")
            entries.append((utt, f"{reader}-{chapter}", common.normalize_text(text), flac))
    if not entries:
        raise common.CorpusLayoutError(
            f"LibriSpeech: no transcripts in {subset_dir}: expected "
            f"{subset_dir}/<reader>/<chapter>/<reader>-<chapter>.trans.txt")
    return entries


def prepare(corpus_dir, data_dir, domain: str = "librispeech", wav_dir="wav", nj: int = 1,
            sets: str = DEFAULT_SETS):
    chosen = common.parse_sets(sets)
    root = common.find_root(corpus_dir, sorted(set(chosen.values())), ["LibriSpeech"], "LibriSpeech")
    splits = {}
    for split, subset in chosen.items():
        entries = [e for e in scan(root / subset) if e[2]]
        audio = common.prepare_audio([common.AudioItem(u, str(f)) for u, _, _, f in entries],
                                     Path(wav_dir) / domain, nj)
        splits[split] = common.utterances(((u, s, t) for u, s, t, _ in entries), audio)
    return common.write_splits(data_dir, domain, splits, "LibriSpeech")


def main(argv=None):
    parser = common.base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--sets", default=DEFAULT_SETS, help="subset of each split")
    args = parser.parse_args(argv)
    prepare(args.corpus_dir, args.data_dir, args.domain, args.wav_dir, args.nj, args.sets)


def cli(argv=None):
    common.run_main(main, argv)


if __name__ == "__main__":
    cli()
