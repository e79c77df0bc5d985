"""Stage 2: check a data directory and write ``utt2num_samples``.

Every utterance must have a readable mono audio file at the expected sample rate, not
empty and not badly clipped, and a non-empty transcript; ids must be unique and
``wav.scp``/``text`` must list the same utterances. Every problem is reported with the
utterance id, the file and what was expected. ``--on_error stop`` (default) fails with
the full list; ``--on_error skip`` drops the bad utterances from the directory (the
recipe works on a copy under ``dump/``; ``data/`` is left untouched), writes them with
the reason to ``<dir>/skipped`` and logs the count.

    python -m espnet_peft.recipe format_data --data_dir dump/raw/child_train --fs 16000
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path
from typing import Dict, List, Tuple

from espnet_peft.data.kaldi_dir import read_table, spk2utt_lines

SKIPPED_FILE = "skipped"
FULL_SCALE = 0.999  # |sample| at or above this (of full scale) counts as clipped


class DataError(ValueError):
    pass


def _read_table(path: Path, problems: List[Tuple[str, str, str]]) -> Dict[str, str]:
    """``id value`` lines -> {id: stripped value}; duplicated ids become problems."""
    duplicates: Dict[str, List[int]] = {}
    table = read_table(path, duplicates)
    for key, lines in duplicates.items():
        problems.append((key, "duplicate id", f"{path}: id appears {len(lines)} times (lines {lines[:5]})"))
    return {k: v.strip() for k, v in table.items()}


def _audio_problem(path: str, fs: int, max_clipped: float):
    """(number of samples, None) or (None, (kind, what is wrong with the file))."""
    import numpy as np
    import soundfile as sf

    if path.rstrip().endswith("|"):
        return None, ("command pipe", "is a command pipe; stage 2 expects audio files")
    try:
        info = sf.info(path)
    except Exception as e:  # soundfile raises several types for bad files
        return None, ("unreadable audio", f"cannot read {path}: {e}")
    if info.samplerate != fs:
        return None, ("wrong sample rate", f"{path} is {info.samplerate} Hz, expected {fs} Hz")
    if info.channels != 1:
        return None, ("not mono", f"{path} has {info.channels} channels, expected mono")
    if info.frames == 0:
        return None, ("empty audio", f"{path} is empty (0 samples)")
    if max_clipped < 1.0:
        try:
            audio, _ = sf.read(path, dtype="float32")
        except Exception as e:
            return None, ("unreadable audio", f"cannot decode {path}: {e}")
        clipped = float(np.mean(np.abs(audio) >= FULL_SCALE))
        if clipped > max_clipped:
            return None, ("clipped", f"{path} is clipped: {100 * clipped:.1f}% of samples at full "
                          f"scale (allowed {100 * max_clipped:.1f}%, --max_clipped_fraction)")
    return info.frames, None


def check_dir(data_dir, fs: int = 16000, max_clipped: float = 0.05):
    """({utt: n_samples} of the good utterances, [(utt, kind, message)...])."""
    data_dir = Path(data_dir)
    for name in ("wav.scp", "text"):
        if not (data_dir / name).is_file():
            raise DataError(f"{data_dir / name} is missing (a Kaldi-style data directory needs "
                            "wav.scp and text)")
    problems: List[Tuple[str, str, str]] = []
    wavs = _read_table(data_dir / "wav.scp", problems)
    texts = _read_table(data_dir / "text", problems)
    for utt in sorted(set(wavs) - set(texts)):
        problems.append((utt, "missing transcript", f"{data_dir}/text has no transcript for it"))
    for utt in sorted(set(texts) - set(wavs)):
        problems.append((utt, "missing audio", f"{data_dir}/wav.scp has no audio for it"))
    for utt in sorted(set(wavs) & set(texts)):
        if not texts[utt]:
            problems.append((utt, "empty transcript", f"{data_dir}/text: empty transcript"))
    bad = {u for u, _, _ in problems}
    good = {}
    for utt, path in wavs.items():
        if utt in bad:
            continue
        n, problem = _audio_problem(path, fs, max_clipped)
        if problem:
            problems.append((utt, problem[0], f"{data_dir}/wav.scp: {problem[1]}"))
        else:
            good[utt] = n
    return good, problems


def keep_only(data_dir: Path, keep) -> None:
    """Rewrite the per-utterance files of ``data_dir`` with the ``keep`` ids only."""
    for name in ("wav.scp", "text", "utt2spk", "segments", "utt2num_samples"):
        path = data_dir / name
        if path.is_file():
            lines = path.read_text(encoding="utf-8").splitlines()
            seen = set()
            kept = []
            for line in lines:
                key = line.partition(" ")[0]
                if key in keep and key not in seen:
                    seen.add(key)
                    kept.append(line)
            path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
    utt2spk = data_dir / "utt2spk"
    if utt2spk.is_file():
        lines = spk2utt_lines((u, s.strip()) for u, s in read_table(utt2spk).items())
        (data_dir / "spk2utt").write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def format_dir(data_dir, fs: int = 16000, on_error: str = "stop", max_clipped: float = 0.05) -> int:
    """Check ``data_dir``, write ``utt2num_samples``; returns the number of utterances kept."""
    if on_error not in ("stop", "skip"):
        raise ValueError(f"on_error must be 'stop' or 'skip', got {on_error!r}")
    data_dir = Path(data_dir)
    good, problems = check_dir(data_dir, fs, max_clipped)
    if problems and on_error == "stop":
        shown = "\n  ".join(f"{u}: {m}" for u, _, m in problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise DataError(f"{data_dir}: {len(problems)} problem(s):\n  {shown}{more}\n"
                        "fix them, or drop the affected utterances with --on_error skip")
    if problems:
        (data_dir / SKIPPED_FILE).write_text("".join(f"{u}\t{m}\n" for u, _, m in problems),
                                             encoding="utf-8")
        keep_only(data_dir, set(good))
        kinds = Counter(k for _, k, _ in problems)
        print(f"format_data: {data_dir}: skipped {len({u for u, _, _ in problems})} utterance(s) "
              f"({', '.join(f'{n} {k}' for k, n in kinds.most_common())}); list: "
              f"{data_dir / SKIPPED_FILE}", file=sys.stderr)
    if not good:
        raise DataError(f"{data_dir}: no usable utterances left")
    (data_dir / "utt2num_samples").write_text("".join(f"{u} {n}\n" for u, n in sorted(good.items())))
    return len(good)


def main(cmd=None):
    """Stage 2: check data directories (audio, transcripts) and write utt2num_samples."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data_dir", required=True, action="append", help="repeat for several")
    parser.add_argument("--fs", type=int, default=16000)
    parser.add_argument("--on_error", choices=["stop", "skip"], default="stop",
                        help="bad utterances: stop with the list (default) or drop them and log")
    parser.add_argument("--max_clipped_fraction", type=float, default=0.05,
                        help="largest share of full-scale samples an utterance may have (1 = no check)")
    args = parser.parse_args(cmd)
    for data_dir in args.data_dir:
        try:
            n = format_dir(data_dir, args.fs, args.on_error, args.max_clipped_fraction)
        except DataError as e:
            raise SystemExit(f"format_data: {e}") from None
        print(f"{data_dir}: {n} utterances checked")


if __name__ == "__main__":
    main()
