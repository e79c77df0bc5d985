"""ChildMandarin (BAAI / Nankai University, 2024; CC BY-NC-SA 4.0): 41.25 h of
Mandarin from 397 children aged 3 to 5 in 22 provinces, recorded on smartphones, with
character-level manual transcripts -- the Chinese child-speech target domain.

Layout (``<corpus_dir>`` is the release root): the audio tree as the authors' Kaldi
lists reference it, and those lists (``baseline/data/`` of github.com/flageval-baai/
ChildMandarin; ``--lists_dir`` points elsewhere)::

    data/<speaker>/<speaker>_<age>_<gender>_<accent>_<city>_<device>_<nnn>.wav   16 kHz mono
        e.g. data/071/071_5_F_L_WUHAN_iPhone_063.wav
    <lists_dir>/<train|dev|test>/text      "<utt> <transcript>" (punctuated, unsegmented)
    <lists_dir>/<train|dev|test>/wav.scp   optional: "<utt> <path>" (relative to the root)

The speaker is the first field of the utterance id. The authors' split is speaker-
disjoint: 32,658 / 4,057 / 4,198 utterances (317 / 39 / 41 speakers, 33.35 / 3.78 /
4.12 h) in train / dev / test. Any corpus shipped as such lists (e.g. the SLT 2021 CSRC
child sets, once written as ``<split>/{text,wav.scp}``) loads the same way.

Text: the shared rules for Chinese (``common.normalize_text(cjk=True)``): full-width
forms to half-width, punctuation removed, no spaces between characters, Latin letters
upper case, digits kept. Scored by character (``run.sh --score_metric cer``).
"""

from __future__ import annotations

import logging
from pathlib import Path

from espnet_peft.data.corpora import common
from espnet_peft.data.kaldi_dir import read_table

log = logging.getLogger("espnet_peft.data.corpora.childmandarin")


def find_lists(root: Path, lists_dir=None) -> Path:
    candidates = [Path(lists_dir)] if lists_dir else [root / "baseline" / "data", root]
    for d in candidates:
        if all((d / s / "text").is_file() for s in common.SPLITS):
            return d
    raise common.CorpusLayoutError(
        f"ChildMandarin: no split lists: expected train/text, dev/text and test/text in "
        f"{' or '.join(str(d) for d in candidates)} (the authors' baseline/data/, or --lists_dir)")


def scan(root: Path, split_dir: Path):
    wav_scp = split_dir / "wav.scp"
    paths = {u: w.strip() for u, w in read_table(wav_scp).items()} if wav_scp.is_file() else {}
    entries, missing = [], []
    for n, line in enumerate((split_dir / "text").read_text(encoding="utf-8-sig").splitlines(), 1):
        utt, _, text = line.strip().partition(" ")
        if not utt:
            continue
        spk = utt.split("_", 1)[0]
        wav = root / paths[utt] if utt in paths else root / "data" / spk / f"{utt}.wav"
        if not wav.is_file():
            missing.append(wav)
            continue
        text = common.normalize_text(text, cjk=True)
        if text:
            entries.append((utt, spk, text, wav))
    if missing:
        raise common.CorpusLayoutError(
            f"ChildMandarin: {len(missing)} utterances of {split_dir / 'text'} have no audio, e.g. {missing[0]} "
            f"(expected data/<speaker>/<utt>.wav under {root}, or a wav.scp beside the text)")
    return entries


def prepare(corpus_dir, data_dir, domain: str = "childmandarin", wav_dir="wav", nj: int = 1, lists_dir=None):
    root = common.find_root(corpus_dir, ["data"], ["ChildMandarin"], "ChildMandarin")
    lists = find_lists(root, lists_dir)
    entries = {split: scan(root, lists / split) for split in common.SPLITS}
    return common.write_splits(data_dir, domain, common.prepared_splits(entries, wav_dir, domain, nj), "ChildMandarin")


def main(argv=None):
    parser = common.base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--lists_dir", default=None, help="holding {train,dev,test}/text (default: baseline/data)")
    args = parser.parse_args(argv)
    prepare(args.corpus_dir, args.data_dir, args.domain, args.wav_dir, args.nj, args.lists_dir)


def cli(argv=None):
    common.run_main(main, argv)


if __name__ == "__main__":
    cli()
