"""Offline speech synthesis with espeak-ng, post-processed by sox.

Both are Debian packages (``apt-get install espeak-ng sox``). The output is 16-bit mono
WAV at ``sample_rate``; ``sox_effects`` (e.g. ``["pitch", "600", "tempo", "1.15"]``)
are applied after resampling, which is how the demo makes "child" speech. Dithering
is off (`sox -D`), so the same input always gives byte-identical files.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Sequence


class SynthesisError(RuntimeError):
    pass


def require_tools(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        raise SynthesisError(
            f"missing program(s) {missing}: install them with "
            "'apt-get install espeak-ng sox' (Debian/Ubuntu)")


def synthesize(text: str, path, voice: str = "en-us", speed: int = 160, pitch: int = 50,
               sox_effects: Sequence[str] = (), sample_rate: int = 16000) -> Path:
    """Speak ``text`` into the WAV file ``path``; returns the path."""
    require_tools("espeak-ng", "sox")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    espeak = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout", text],
        capture_output=True)
    if espeak.returncode != 0 or not espeak.stdout:
        raise SynthesisError(f"espeak-ng failed for voice {voice!r}: {espeak.stderr.decode().strip()}")
    sox = subprocess.run(
        ["sox", "-D", "-t", "wav", "-", "-r", str(sample_rate), "-c", "1", "-b", "16", str(path),
         *sox_effects],
        input=espeak.stdout, capture_output=True)
    if sox.returncode != 0:
        raise SynthesisError(f"sox failed writing {path} (effects {list(sox_effects)}): "
                             f"{sox.stderr.decode().strip()}")
    return path
