"""OGI Kids (CSLU Kids' Speech, LDC2007S18): the scripted part, prompted words and
sentences read by about 1,100 children from kindergarten to grade 10.

Layout as distributed (``<corpus_dir>`` holds ``docs/``, ``speech/``, ``trans/``...)::

    speech/scripted/.../<speaker>/<speaker><prompt><n>.wav   e.g. ks001/ks0010a0.wav
    docs/all.map                                           '<prompt> "<text>"' per line

The prompt id is the two characters before the last one of the file name (as in
ESPnet's ``egs2/myst_ogi_cmu_kids/asr1/local/ogi_scripted_prepare.sh``); the speaker is
the folder holding the file. Recordings whose prompt is not in ``all.map`` are skipped
and counted. Audio is used in place when it is 16 kHz mono WAV, else converted.

Splits: ``--split_dir`` with ``{train,dev,test}.list`` (e.g. ESPnet's
``local/ogi_scripted_file_list``); without it speaker-disjoint as for CMU Kids
(speakers sorted, index % 10 == 0 test, == 5 dev).
"""

from __future__ import annotations

import logging
from pathlib import Path

from espnet_peft.data.corpora import common

log = logging.getLogger("espnet_peft.data.corpora.ogi_kids")


def read_map(path: Path) -> dict:
    prompts = {}
    for n, line in enumerate(path.read_text(encoding="latin-1").splitlines(), 1):
        key, _, text = line.strip().partition(" ")
        if not key:
            continue
        if not text.strip():
            raise common.CorpusLayoutError(f"OGI Kids: {path}:{n}: expected '<prompt id> \"<text>\"', got {line!r}")
        prompts[key.lower()] = text.strip().strip('"')
    return prompts


def scan(root: Path):
    prompts = read_map(root / "docs/all.map")
    entries, unknown = [], 0
    for wav in sorted((root / "speech/scripted").rglob("*.wav")):
        spk, utt = wav.parent.name, wav.stem
        if not utt.startswith(spk):
            raise common.CorpusLayoutError(f"OGI Kids: {wav}: expected a name starting with its speaker folder {spk!r}")
        key = utt[-3:-1].lower()
        if key not in prompts:
            unknown += 1
            continue
        text = common.normalize_text(prompts[key], ascii=True)
        if text:
            entries.append((utt, spk, text, wav))
    if unknown:
        log.info("OGI Kids: %d recordings with a prompt id not in docs/all.map skipped", unknown)
    if not entries:
        raise common.CorpusLayoutError(
            f"OGI Kids: no recordings under {root}/speech/scripted: expected .../<speaker>/<speaker><prompt><n>.wav")
    return entries


def prepare(corpus_dir, data_dir, domain: str = "ogi_kids", wav_dir="wav", nj: int = 1, split_dir=None):
    root = common.find_root(corpus_dir, ["speech/scripted", "docs/all.map"], ["cslu_kids"], "OGI Kids")
    splits = {}
    for split, entries in common.assign_splits(scan(root), split_dir).items():
        audio = common.prepare_audio([common.AudioItem(u, str(f)) for u, _, _, f in entries],
                                     Path(wav_dir) / domain, nj)
        splits[split] = common.utterances(((u, s, t) for u, s, t, _ in entries), audio)
    return common.write_splits(data_dir, domain, splits, "OGI Kids")


def main(argv=None):
    parser = common.base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--split_dir", default=None, help="train.list, dev.list, test.list")
    args = parser.parse_args(argv)
    prepare(args.corpus_dir, args.data_dir, args.domain, args.wav_dir, args.nj, args.split_dir)


def cli(argv=None):
    common.run_main(main, argv)


if __name__ == "__main__":
    cli()
