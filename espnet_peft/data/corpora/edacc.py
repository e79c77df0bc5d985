"""EdAcc (The Edinburgh International Accents of English Corpus, v1.0, University of
Edinburgh 2023, CC BY-SA 4.0): about 40 h of English video-call conversations between
pairs of speakers with a wide range of first and second-language accents.

Layout as distributed (``<corpus_dir>`` holds ``edacc_v1.0/`` or is it)::

    data/<conversation>.wav            one recording per conversation (e.g. EDACC-C06.wav,
                                       EDACC-C35_P1.wav for a conversation in parts)
    <dev|test>/segments                "<utt> <conversation> <start> <end>" (seconds)
    <dev|test>/text                    "<utt> <transcript>" of each turn
    <dev|test>/utt2spk                 "<utt> <speaker>"  (speakers EDACC-C06-A, EDACC-C06-B)
    <dev|test>/stm                     "<conv> <ch> <speaker> <start> <end> <gender,l1|l2> <text>";
                                       read-speech turns are IGNORE_TIME_SEGMENT_IN_SCORING
    <dev|test>/conv.list, company.ctm  (not used)
    linguistic_background.csv          one row per PARTICIPANT_ID: the speaker's answers,
                                       among them the self-described accent
    README.txt, glm, evaluate.sh

Utterances are the turns of ``segments`` with their ``text``, id ``<speaker>-<utt>``
(Kaldi wants the speaker as prefix); each turn is cut out of its conversation into a
16 kHz WAV with sox. Turns the ``stm`` marks IGNORE_TIME_SEGMENT_IN_SCORING (the read
control passage) are left out unless ``--keep_read``. Text: the special tokens
(``<breath> <click> <cough> <dtmf> <foreign> <laugh> <lipsmack> <no-speech> <overlap>
<ring>``) go with the shared English rules (numbers to words, hyphens as spaces, ASCII,
upper case); turns left empty are dropped. Each data directory also gets ``spk2accent``
(the self-described accent of the CSV, for per-accent scoring).

Splits: EdAcc ships only dev (about 9.8k turns) and test (about 9.3k). The test set
stays the test split; the dev set is split by conversation for adaptation: conversation
ids (parts ``_P<n>`` joined) sorted, every ``--dev_every``-th (index 0, n, 2n, ...) to
dev, the rest to train -- so both speakers of a conversation stay in one split, and no
test speaker is ever trained on. ``--accents REGEX`` keeps the speakers whose
self-described accent matches (case-insensitive search, e.g. ``nigeria|kenya|ghana``);
default: every speaker.
"""

from __future__ import annotations

import csv
import logging
import re
from pathlib import Path

from espnet_peft.data.corpora import common
from espnet_peft.data.kaldi_dir import read_table

PARTICIPANT = "PARTICIPANT_ID"
ACCENT = "How would you describe your accent in English? (e.g. Italian, Glaswegian)"
IGNORE = "IGNORE_TIME_SEGMENT_IN_SCORING"
SPLIT_FILES = ("segments", "text", "utt2spk", "stm")
MARKUP = (r"<[^>]*>",)
log = logging.getLogger("espnet_peft.data.corpora.edacc")


def read_accents(path: Path) -> dict:
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in (PARTICIPANT, ACCENT) if c not in (reader.fieldnames or [])]
        if missing:
            raise common.CorpusLayoutError(f"EdAcc: {path} has no column {' or '.join(repr(c) for c in missing)}")
        return {row[PARTICIPANT].strip(): " ".join(row[ACCENT].split()) for row in reader}


def read_ignored(stm: Path) -> set:
    """(conversation, start, end) of the turns the stm excludes from scoring."""
    ignored = set()
    for line in stm.read_text(encoding="utf-8").splitlines():
        fields = line.split()
        if len(fields) >= 6 and not line.startswith(";;") and IGNORE in fields[5:]:
            ignored.add((fields[0], round(float(fields[3]), 2), round(float(fields[4]), 2)))
    return ignored


def scan(root: Path, part: str, keep_read: bool):
    d = root / part
    segments = read_table(d / "segments")
    texts, utt2spk = read_table(d / "text"), read_table(d / "utt2spk")
    ignored = set() if keep_read else read_ignored(d / "stm")
    entries, read = [], 0
    for utt, seg in sorted(segments.items()):
        fields = seg.split()
        if len(fields) != 3:
            raise common.CorpusLayoutError(f"EdAcc: {d / 'segments'}: expected '<utt> <conversation> <start> <end>', "
                                           f"got {utt} {seg!r}")
        conv, start, end = fields[0], float(fields[1]), float(fields[2])
        if (conv, round(start, 2), round(end, 2)) in ignored:
            read += 1
            continue
        if utt not in utt2spk:
            raise common.CorpusLayoutError(f"EdAcc: {utt} of {d / 'segments'} has no speaker in {d / 'utt2spk'}")
        wav = root / "data" / f"{conv}.wav"
        if not wav.is_file():
            raise common.CorpusLayoutError(f"EdAcc: {utt} is in conversation {conv}, but {wav} is missing")
        text = common.normalize_text(texts.get(utt, ""), MARKUP, hyphens="space", ascii=True)
        if text:
            spk = utt2spk[utt].strip()
            entries.append((f"{spk}-{utt}", spk, text, common.AudioItem(f"{spk}-{utt}", str(wav), start, end), conv))
    if read:
        log.info("EdAcc %s: %d read-passage turns (%s in the stm) left out", part, read, IGNORE)
    return entries


def conversation(conv: str) -> str:
    return re.sub(r"_P\d+$", "", conv)


def prepare(corpus_dir, data_dir, domain: str = "edacc", wav_dir="wav", nj: int = 1, accents: str = "",
            dev_every: int = 5, keep_read: bool = False):
    expected = ["data", "linguistic_background.csv"] + [f"{p}/{f}" for p in ("dev", "test") for f in SPLIT_FILES]
    root = common.find_root(corpus_dir, expected, ["edacc_v1.0"], "EdAcc")
    spk2accent = read_accents(root / "linguistic_background.csv")
    pattern = re.compile(accents, re.IGNORECASE) if accents else None
    parts = {}
    for part in ("dev", "test"):
        parts[part] = [e for e in scan(root, part, keep_read)
                       if pattern is None or pattern.search(spk2accent.get(e[1], ""))]
    convs = sorted({conversation(e[4]) for e in parts["dev"]})
    to_dev = {c for i, c in enumerate(convs) if i % dev_every == 0}
    entries = {"train": [e for e in parts["dev"] if conversation(e[4]) not in to_dev],
               "dev": [e for e in parts["dev"] if conversation(e[4]) in to_dev],
               "test": parts["test"]}
    entries = {s: [e[:4] for e in es] for s, es in entries.items()}
    counts = common.write_splits(data_dir, domain, common.prepared_splits(entries, wav_dir, domain, nj),
                                 f"EdAcc (accents {accents or 'all'})")
    for split, es in entries.items():
        (Path(data_dir) / f"{domain}_{split}" / "spk2accent").write_text(
            "".join(f"{s} {spk2accent.get(s, 'unknown')}\n" for s in sorted({e[1] for e in es})), encoding="utf-8")
    return counts


def main(argv=None):
    parser = common.base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--accents", default="", help="regex on the self-described accent (default: all)")
    parser.add_argument("--dev_every", type=int, default=5, help="every n-th dev-set conversation to dev")
    parser.add_argument("--keep_read", action="store_true", help="keep the read-passage turns")
    args = parser.parse_args(argv)
    prepare(args.corpus_dir, args.data_dir, args.domain, args.wav_dir, args.nj, args.accents,
            args.dev_every, args.keep_read)


def cli(argv=None):
    common.run_main(main, argv)


if __name__ == "__main__":
    cli()
