"""Whisper writes "The cat sat." where the demo's references say "the cat sat": score
after lower-casing and dropping punctuation, for every model alike.

    python -m espnet_peft.recipe.whisper_normalize --exp_dir exp

rewrites each ``exp/*/decode_*/1best_recog/text`` in normalised form and keeps ESPnet's
output as ``text.raw`` beside it (re-running changes nothing; a fresh decoding is
normalised again).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path


def normalize_transcript(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split())


def _normalized_lines(text: str) -> str:
    out = []
    for line in text.splitlines():
        utt, _, words = line.partition(" ")
        out.append(f"{utt} {normalize_transcript(words)}".rstrip() + "\n")
    return "".join(out)


def normalize_hypotheses(hyp_file: Path) -> bool:
    """Normalise one ``1best_recog/text``; returns whether it changed."""
    raw = hyp_file.with_name("text.raw")
    current = hyp_file.read_text(encoding="utf-8")
    if raw.is_file() and _normalized_lines(raw.read_text(encoding="utf-8")) == current:
        return False
    raw.write_text(current, encoding="utf-8")
    hyp_file.write_text(_normalized_lines(current), encoding="utf-8")
    return True


def main(cmd=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--exp_dir", type=Path, required=True)
    args = parser.parse_args(cmd)
    files = sorted(args.exp_dir.glob("*/decode_*/1best_recog/text"))
    changed = sum(normalize_hypotheses(f) for f in files)
    print(f"normalised {changed} of {len(files)} hypothesis files under {args.exp_dir}")


if __name__ == "__main__":
    main()
