"""OGI Kids (CSLU Kids' Speech, LDC2007S18): about 1,100 children from kindergarten to
grade 10; the scripted part (prompted words and sentences read aloud) and the
spontaneous part (a monologue per child, prompted by an interviewer's questions).

Layout as distributed (``<corpus_dir>`` holds ``docs/``, ``speech/``, ``trans/``...)::

    speech/scripted/.../<speaker>/<speaker><prompt><n>.wav   e.g. ks001/ks0010a0.wav
    docs/all.map                                           '<prompt> "<text>"' per line
    speech/spontaneous/<grade>/<n>/<speaker>/<utt>.wav       one recording per child
    trans/spontaneous/<grade>/<n>/<speaker>/<utt>.txt        its transcript (first line)

``--parts scripted`` (default), ``spontaneous`` or ``both``. Scripted: the prompt id is
the two characters before the last one of the file name (as in ESPnet's
``egs2/myst_ogi_cmu_kids/asr1/local/ogi_scripted_prepare.sh``); recordings whose prompt
is not in ``all.map`` are skipped and counted. Spontaneous: the recording and its
transcript pair by file name (a recording without one is skipped and counted); the
transcription markup is removed as ESPnet's ``ctc_segment.py`` does -- ``<...>`` noise
and event tags and ``(...)`` with their content, the brackets of ``[...]`` and ``*``
marks (the word stays). The spontaneous recordings are whole monologues, minutes long:
they are used whole here (stage 2 reads whole files); ESPnet cuts them into <= 25 s
pieces by CTC segmentation with a wav2vec2 model first, which needs that model. The
speaker is the folder holding the file. Audio is used in place when it is 16 kHz mono
WAV, else converted.

Splits: ``--split_dir`` with ``{train,dev,test}.list`` of utterance ids (e.g. ESPnet's
``local/ogi_scripted_file_list``; its ``ogi_spon_file_list`` names the speakers of the
spontaneous split); without it speaker-disjoint as for CMU Kids (speakers sorted,
index % 10 == 0 test, == 5 dev), over both parts together when ``--parts both``.
"""

from __future__ import annotations

import logging
import re
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


def scan_scripted(root: Path):
    prompts = read_map(root / "docs/all.map")
    entries, unknown = [], 0
    for wav in sorted((root / "speech/scripted").rglob("*.wav")):
        spk, utt = speaker_of(wav)
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


SPONTANEOUS_MARKUP = (r"<[^>]*>", r"\([^()]*\)")


def scan_spontaneous(root: Path):
    transcripts = {t.stem: t for t in (root / "trans/spontaneous").rglob("*.txt")}
    entries, untranscribed = [], 0
    for wav in sorted((root / "speech/spontaneous").rglob("*.wav")):
        spk, utt = speaker_of(wav)
        if utt not in transcripts:
            untranscribed += 1
            continue
        lines = transcripts[utt].read_text(encoding="utf-8-sig", errors="replace").splitlines()
        raw = re.sub(r"[\[\]*]", "", lines[0] if lines else "")
        text = common.normalize_text(raw, SPONTANEOUS_MARKUP, ascii=True)
        if text:
            entries.append((utt, spk, text, wav))
    if untranscribed:
        log.info("OGI Kids: %d spontaneous recordings without a transcript in trans/spontaneous skipped", untranscribed)
    if not entries:
        raise common.CorpusLayoutError(
            f"OGI Kids: no transcribed recordings under {root}/speech/spontaneous: expected "
            ".../<speaker>/<utt>.wav with trans/spontaneous/.../<speaker>/<utt>.txt")
    return entries


def speaker_of(wav: Path):
    spk, utt = wav.parent.name, wav.stem
    if not utt.startswith(spk):
        raise common.CorpusLayoutError(f"OGI Kids: {wav}: expected a name starting with its speaker folder {spk!r}")
    return spk, utt


PARTS = {"scripted": (["speech/scripted", "docs/all.map"], [scan_scripted]),
         "spontaneous": (["speech/spontaneous", "trans/spontaneous"], [scan_spontaneous]),
         "both": (["speech/scripted", "docs/all.map", "speech/spontaneous", "trans/spontaneous"],
                  [scan_scripted, scan_spontaneous])}


def prepare(corpus_dir, data_dir, domain: str = "ogi_kids", wav_dir="wav", nj: int = 1, split_dir=None,
            parts: str = "scripted"):
    if parts not in PARTS:
        raise ValueError(f"--parts: expected one of {', '.join(PARTS)}, got {parts!r}")
    expected, scanners = PARTS[parts]
    root = common.find_root(corpus_dir, expected, ["cslu_kids"], "OGI Kids")
    entries = [e for scan in scanners for e in scan(root)]
    seen = set()
    for utt, *_ in entries:
        if utt in seen:
            raise common.CorpusLayoutError(f"OGI Kids: utterance id {utt} occurs twice (scripted and spontaneous?)")
        seen.add(utt)
    splits = common.prepared_splits(common.assign_splits(entries, split_dir), wav_dir, domain, nj)
    return common.write_splits(data_dir, domain, splits, f"OGI Kids ({parts})")


def main(argv=None):
    parser = common.base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--split_dir", default=None, help="train.list, dev.list, test.list")
    parser.add_argument("--parts", default="scripted", choices=sorted(PARTS), help="which part(s) of the corpus")
    args = parser.parse_args(argv)
    prepare(args.corpus_dir, args.data_dir, args.domain, args.wav_dir, args.nj, args.split_dir, args.parts)


def cli(argv=None):
    common.run_main(main, argv)


if __name__ == "__main__":
    cli()
