"""CMU Kids (LDC97S63): sentences read aloud by 76 children aged 6-11.

Layout as distributed (``<corpus_dir>`` may hold ``cmu_kids/`` or be it)::

    kids/<spk>/signal/<spk><sent><n>.sph     NIST SPHERE, 16 kHz
    kids/<spk>/trans/<spk><sent><n>.trn      what the child said, with markup
    tables/sentence.tbl                      "<sent>\\t<count>\\t<prompt sentence>"

``<spk>`` is four letters (the first is the sex, ``f``/``m``), ``<sent>`` the three
characters of the prompt id and ``<n>`` the recording number, e.g. ``fnjs1ab2``.
The SPHERE files are converted to 16 kHz mono WAV with sox.

Text: ``--text_source prompt`` (default) uses the prompt sentence from
``tables/sentence.tbl``, as ESPnet's ``egs2/cmu_kids`` and ``egs2/myst_ogi_cmu_kids``
recipes do (results stay comparable); ``trans`` uses the ``.trn`` transcript with its
markup removed (``[...]`` noises, ``<...>``, ``/.../`` phonetic spellings of misread
words). Both then go through the shared normalisation.

Splits: the corpus defines none. ``--split_dir DIR`` with ``train.list``, ``dev.list``,
``test.list`` (one utterance id per line, e.g. ESPnet's
``egs2/myst_ogi_cmu_kids/asr1/local/cmu_file_list``) reproduces a published split;
without it the split is speaker-disjoint and deterministic: speakers sorted by id,
every 10th (index 0, 10, ...) to test and every 10th from index 5 to dev.
"""

from __future__ import annotations

import logging
from pathlib import Path

from espnet_peft.data.corpora import common

TRANS_MARKUP = (r"\[[^\[\]]*\]", r"<[^<>]*>", r"/[^/]*/")
log = logging.getLogger("espnet_peft.data.corpora.cmu_kids")


def read_prompts(table: Path) -> dict:
    prompts = {}
    for n, line in enumerate(table.read_text(encoding="latin-1").splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 3:
            raise common.CorpusLayoutError(
                f"CMU Kids: {table}:{n}: expected '<sentence id>\\t<count>\\t<sentence>', got {line!r}")
        prompts[fields[0].strip()] = "\t".join(fields[2:]).strip()
    return prompts


def scan(root: Path, text_source: str):
    prompts = read_prompts(root / "tables/sentence.tbl") if text_source == "prompt" else None
    entries = []
    for sph in sorted((root / "kids").glob("*/signal/*.sph")):
        spk, utt = sph.parent.parent.name, sph.stem
        if not utt.startswith(spk):
            raise common.CorpusLayoutError(
                f"CMU Kids: {sph}: expected a file name starting with its speaker id {spk!r}")
        if prompts is not None:
            sent = utt[len(spk):len(spk) + 3]
            if sent not in prompts:
                raise common.CorpusLayoutError(
                    f"CMU Kids: prompt {sent!r} of {utt} is not in {root / 'tables/sentence.tbl'}")
            text = common.normalize_text(prompts[sent], ascii=True)
        else:
            trn = sph.parent.parent / "trans" / f"{utt}.trn"
            if not trn.is_file():
                raise common.CorpusLayoutError(f"CMU Kids: {trn} missing (needed by --text_source trans)")
            text = common.normalize_text(trn.read_text(encoding="latin-1"), markup=TRANS_MARKUP, ascii=True)
        if text:
            entries.append((utt, spk, text, sph))
    if not entries:
        raise common.CorpusLayoutError(
            f"CMU Kids: no recordings under {root}/kids: expected kids/<spk>/signal/<utt>.sph")
    return entries


def prepare(corpus_dir, data_dir, domain: str = "cmu_kids", wav_dir="wav", nj: int = 1,
            text_source: str = "prompt", split_dir=None):
    if text_source not in ("prompt", "trans"):
        raise ValueError(f"--text_source must be prompt or trans, got {text_source!r}")
    root = common.find_root(corpus_dir, ["kids", "tables/sentence.tbl"], ["cmu_kids"], "CMU Kids")
    by_split = common.assign_splits(scan(root, text_source), split_dir)
    splits = {}
    for split, entries in by_split.items():
        audio = common.prepare_audio([common.AudioItem(u, str(f)) for u, _, _, f in entries],
                                     Path(wav_dir) / domain, nj)
        splits[split] = common.utterances(((u, s, t) for u, s, t, _ in entries), audio)
    return common.write_splits(data_dir, domain, splits, "CMU Kids")


def main(argv=None):
    parser = common.base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--text_source", default="prompt", choices=["prompt", "trans"])
    parser.add_argument("--split_dir", default=None, help="train.list, dev.list, test.list")
    args = parser.parse_args(argv)
    prepare(args.corpus_dir, args.data_dir, args.domain, args.wav_dir, args.nj,
            args.text_source, args.split_dir)


def cli(argv=None):
    common.run_main(main, argv)


if __name__ == "__main__":
    cli()
