"""Stage 2: check a data directory and write ``utt2num_samples``.

Every ``wav.scp`` entry must be a readable mono file at the expected sample rate with
a transcript in ``text``; a problem is reported with the file and line it comes from.

    python -m espnet_peft.recipe.format_data --data_dir dump/raw/child_train --fs 16000
"""

from __future__ import annotations

import argparse
from pathlib import Path

from espnet_peft.data.kaldi_dir import read_table


class DataError(ValueError):
    pass


def format_dir(data_dir, fs: int = 16000) -> int:
    import soundfile as sf

    data_dir = Path(data_dir)
    for name in ("wav.scp", "text"):
        if not (data_dir / name).is_file():
            raise DataError(f"{data_dir / name} is missing")
    wavs, texts = read_table(data_dir / "wav.scp"), read_table(data_dir / "text")
    no_text = sorted(set(wavs) - set(texts))
    if no_text:
        raise DataError(f"{data_dir}/text has no transcript for {len(no_text)} utterances, e.g. {no_text[:3]}")
    lines = []
    for utt, path in wavs.items():
        if path.rstrip().endswith("|"):
            raise DataError(f"{data_dir}/wav.scp: {utt} is a command pipe; stage 2 expects audio files")
        try:
            info = sf.info(path)
        except Exception as e:  # soundfile raises several types for bad files
            raise DataError(f"{data_dir}/wav.scp: {utt}: cannot read {path}: {e}") from None
        if info.samplerate != fs:
            raise DataError(f"{data_dir}/wav.scp: {utt}: {path} is {info.samplerate} Hz, expected {fs} Hz")
        if info.channels != 1:
            raise DataError(f"{data_dir}/wav.scp: {utt}: {path} has {info.channels} channels, expected mono")
        if info.frames == 0:
            raise DataError(f"{data_dir}/wav.scp: {utt}: {path} is empty")
        lines.append(f"{utt} {info.frames}\n")
    (data_dir / "utt2num_samples").write_text("".join(lines))
    return len(lines)


def main(cmd=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data_dir", required=True, action="append", help="repeat for several")
    parser.add_argument("--fs", type=int, default=16000)
    args = parser.parse_args(cmd)
    for data_dir in args.data_dir:
        try:
            n = format_dir(data_dir, args.fs)
        except DataError as e:
            raise SystemExit(f"format_data: {e}") from None
        print(f"{data_dir}: {n} utterances checked")


if __name__ == "__main__":
    main()
