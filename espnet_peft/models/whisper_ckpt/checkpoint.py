"""Let ESPnet's Whisper modules load an openai-whisper checkpoint file by path.

ESPnet's ``OpenAIWhisperEncoder``/``OpenAIWhisperDecoder`` assert that ``whisper_model``
is in ``whisper.available_models()`` and then call ``whisper.load_model(whisper_model)``.
``load_model`` itself accepts a file path (and then checks no SHA-256 and downloads
nothing); only the assert stands in the way. ``checkpoint_as_model_name`` widens
``available_models()`` to that one path while ESPnet's constructor runs, so every line
of ESPnet's own set-up (dropout, SpecAugment, vocabulary resizing) is what runs.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator


def resolve_checkpoint(path: str) -> str:
    """Absolute path of an existing checkpoint, or an error saying what to do."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise FileNotFoundError(
            f"Whisper checkpoint {path!r} not found: give the model.pt written by "
            "`python -m espnet_peft.bin.convert_ct2_whisper --out_dir DIR` (or any openai-whisper "
            "checkpoint); for the official models by name use ESPnet's encoder/decoder `whisper`")
    return str(p.resolve())


@contextlib.contextmanager
def checkpoint_as_model_name(path: str) -> Iterator[None]:
    """Within the block, ``whisper.available_models()`` also lists ``path``."""
    import whisper

    official = whisper.available_models
    whisper.available_models = lambda: list(official()) + [path]
    try:
        yield
    finally:
        whisper.available_models = official
