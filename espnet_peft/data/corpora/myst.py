"""MyST (My Science Tutor children's conversational speech, LDC2021S05).

Layout as distributed (``<corpus_dir>`` may be the release directory, its
``myst_child_conv_speech`` folder or that folder's ``data``)::

    myst_child_conv_speech/data/{train,development,test}/<student>/<session>/
        myst_<student>_<date>_<time>_<topic>_<unit>_<nnn>.flac   16 kHz mono
        myst_<student>_<date>_<time>_<topic>_<unit>_<nnn>.trn    transcript, one line

The published partition (train / development / test) is kept; speakers are
``myst_<student>``; utterance ids are the file names. FLAC files are used in place.
Audio without a ``.trn`` is skipped (many turns are untranscribed), as in ESPnet's
``egs2/myst/asr1``.

Transcript normalisation: markup is removed with its content, as ESPnet's
``egs2/myst/asr1/local/text_preprocess.py`` does: ``<...>`` (``<no_signal>``,
``<side_speech>``, ``<laugh>``, ``<breath>``, ``<noise>``, ``<discard>``...),
``[...]`` (``[laughter]``...), ``{...}``, ``+...+``, and parentheses including nested
ones (``(( ))`` unintelligible, ``((word))`` uncertain, ``(*)``); then the shared rules
of :mod:`espnet_peft.data.corpora.common` (numbers to words, hyphens joined so that a
cut-off ``WH-`` becomes ``WH``, punctuation dropped, ASCII, upper case). Utterances with
nothing left (only markup) are dropped and counted.

Filtering as in the SSVD paper: ``--filter_list`` names utterances to drop (e.g. those
whose Whisper-large-v2 WER exceeds 50 %); ``--keep_list`` instead keeps only the listed
ones (the form of ESPnet's ``egs2/myst_ogi_cmu_kids/asr1/local/myst_file_list``). With
the paper's filtering the counts are 55,703 / 9,047 / 10,328 (train / dev / test).
"""

from __future__ import annotations

import logging
from pathlib import Path

from espnet_peft.data.corpora import common

PARTITIONS = {"train": "train", "dev": "development", "test": "test"}
# Utterances per split after the SSVD paper's filtering (arXiv 2509.02830).
PAPER_COUNTS = {"train": 55703, "dev": 9047, "test": 10328}
MARKUP = (r"<[^<>]*>", r"\[[^\[\]]*\]", r"\{[^{}]*\}", r"\+[^+]*\+", r"\([^()]*\)")
log = logging.getLogger("espnet_peft.data.corpora.myst")


def normalize(text: str) -> str:
    return common.normalize_text(text, markup=MARKUP, hyphens="join", ascii=True)


def scan(data_root: Path, partition: str):
    """(utt_id, speaker, flac, raw transcript) of one partition, and the number of
    audio files without a transcript."""
    part = data_root / partition
    found, untranscribed = [], 0
    for flac in sorted(part.glob("*/*/*.flac")):
        student = flac.parent.parent.name
        speaker = f"myst_{student}"
        trn = flac.with_suffix(".trn")
        if not trn.is_file():
            untranscribed += 1
            continue
        utt = flac.stem if flac.stem.startswith(speaker + "_") else f"{speaker}_{flac.stem}"
        found.append((utt, speaker, flac, trn.read_text(encoding="utf-8", errors="replace")))
    if not found:
        raise common.CorpusLayoutError(
            f"MyST: no transcribed audio in {part}: expected "
            f"{part}/<student>/<session>/<utterance>.flac with a .trn beside each")
    return found, untranscribed


def prepare(corpus_dir, data_dir, domain: str = "myst", wav_dir="wav", nj: int = 1,
            filter_list=None, keep_list=None):
    root = common.find_root(corpus_dir, list(PARTITIONS.values()),
                            ["myst_child_conv_speech/data", "data"], "MyST")
    drop = common.read_id_list(filter_list) if filter_list else set()
    keep = common.read_id_list(keep_list) if keep_list else None
    splits = {}
    for split, partition in PARTITIONS.items():
        found, untranscribed = scan(root, partition)
        entries, empty, filtered = [], 0, 0
        for utt, speaker, flac, raw in found:
            if utt in drop or (keep is not None and utt not in keep):
                filtered += 1
                continue
            text = normalize(raw)
            if not text:
                empty += 1
                continue
            entries.append((utt, speaker, text, flac))
        log.info("MyST %s: %d utterances (%d audio files without .trn, %d only markup, %d filtered)",
                 partition, len(entries), untranscribed, empty, filtered)
        audio = common.prepare_audio([common.AudioItem(u, str(f)) for u, _, _, f in entries],
                                     Path(wav_dir) / domain, nj)
        splits[split] = common.utterances(((u, s, t) for u, s, t, _ in entries), audio)
    counts = common.write_splits(data_dir, domain, splits, "MyST")
    if filter_list or keep_list:
        log.info("MyST after filtering: %s (the SSVD paper: %s)",
                 "/".join(f"{counts[s]:,}" for s in common.SPLITS),
                 "/".join(f"{PAPER_COUNTS[s]:,}" for s in common.SPLITS))
    return counts


def main(argv=None):
    parser = common.base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--filter_list", default=None, help="utterance ids to drop (one per line)")
    parser.add_argument("--keep_list", default=None, help="keep only these utterance ids")
    args = parser.parse_args(argv)
    prepare(args.corpus_dir, args.data_dir, args.domain, args.wav_dir, args.nj,
            args.filter_list, args.keep_list)


def cli(argv=None):
    common.run_main(main, argv)


if __name__ == "__main__":
    cli()
