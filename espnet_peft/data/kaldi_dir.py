"""Kaldi-style data directories as ESPnet reads them: ``wav.scp``, ``text``,
``utt2spk``, ``spk2utt`` -- sorted by utterance id, one line per utterance."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Dict, Iterable, List, NamedTuple, Optional, Tuple


class Utterance(NamedTuple):
    utt_id: str
    speaker: str
    wav: str
    text: str


def write_data_dir(directory, utterances: Iterable[Utterance]) -> Path:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    utts = sorted(utterances, key=lambda u: u.utt_id)
    for u in utts:
        if not u.utt_id.startswith(u.speaker):
            raise ValueError(f"utterance id {u.utt_id!r} must start with its speaker id "
                             f"{u.speaker!r} (Kaldi sorting convention)")
        if any(c.isspace() for c in u.utt_id) or "\n" in u.text:
            raise ValueError(f"bad utterance {u.utt_id!r}: ids have no spaces, texts one line")
    files = {
        "wav.scp": [f"{u.utt_id} {u.wav}" for u in utts],
        "text": [f"{u.utt_id} {u.text}" for u in utts],
        "utt2spk": [f"{u.utt_id} {u.speaker}" for u in utts],
        "spk2utt": spk2utt_lines((u.utt_id, u.speaker) for u in utts),
    }
    for name, lines in files.items():
        (directory / name).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return directory


def spk2utt_lines(utt2spk: Iterable[Tuple[str, str]]) -> List[str]:
    """``spk2utt`` lines (speaker, then its utterances in order) from (utt, speaker) pairs."""
    spk2utt: Dict[str, List[str]] = defaultdict(list)
    for utt, spk in utt2spk:
        spk2utt[spk].append(utt)
    return [f"{s} {' '.join(ids)}" for s, ids in sorted(spk2utt.items())]


def read_table(path, duplicates: Optional[Dict[str, List[int]]] = None) -> Dict[str, str]:
    """``key value...`` lines -> {key: value}. A repeated key is an error, unless a
    ``duplicates`` dict is given: it then receives {key: [line numbers of every copy]}
    and the last copy's value is kept."""
    out, lines_of = {}, defaultdict(list)
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        key, _, value = line.partition(" ")
        if key in out and duplicates is None:
            raise ValueError(f"{path}:{n}: duplicate key {key!r}")
        lines_of[key].append(n)
        out[key] = value
    if duplicates is not None:
        duplicates.update({k: lines for k, lines in lines_of.items() if len(lines) > 1})
    return out
