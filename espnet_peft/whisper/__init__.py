"""Whisper from a checkpoint file in ESPnet, and the CTranslate2 -> openai-whisper converter.

Importing this package (``espnet_peft`` does) calls ``register_whisper_choices()``: once ESPnet's
``espnet2.tasks.asr`` is imported (now or later; importing it here would cost every
``import espnet_peft`` seconds), its encoder and decoder choices gain ``whisper_ckpt``
(``WhisperCheckpointEncoder`` / ``WhisperCheckpointDecoder``). ESPnet's by-name
``whisper`` choices stay as they are, for machines that can download the models.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys

CHOICE = "whisper_ckpt"
_ASR_TASK_MODULE = "espnet2.tasks.asr"


def _add_choices(module) -> None:
    from espnet_peft.whisper.decoder import WhisperCheckpointDecoder
    from espnet_peft.whisper.encoder import WhisperCheckpointEncoder

    module.encoder_choices.classes[CHOICE] = WhisperCheckpointEncoder
    module.decoder_choices.classes[CHOICE] = WhisperCheckpointDecoder
    # Not Whisper, registered on the same hook: a local Hugging Face wav2vec2/XLS-R.
    from espnet_peft.wav2vec2 import CHOICE as W2V_CHOICE, HFWav2Vec2Encoder

    module.encoder_choices.classes[W2V_CHOICE] = HFWav2Vec2Encoder


class _RegisterAfterImport(importlib.abc.MetaPathFinder):
    """Runs ``_add_choices`` right after ``espnet2.tasks.asr`` has executed."""

    _searching = False

    def find_spec(self, fullname, path, target=None):
        if fullname != _ASR_TASK_MODULE or self._searching:
            return None
        self._searching = True  # let the other finders locate the module
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            self._searching = False
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_and_register(module):
            exec_module(module)
            _add_choices(module)
            if self in sys.meta_path:
                sys.meta_path.remove(self)

        spec.loader.exec_module = exec_and_register
        return spec


def register_whisper_choices() -> None:
    """Add ``whisper_ckpt`` to ASRTask's encoder/decoder choices (now or on import)."""
    module = sys.modules.get(_ASR_TASK_MODULE)
    if module is not None:
        _add_choices(module)
    elif not any(isinstance(f, _RegisterAfterImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _RegisterAfterImport())


register_whisper_choices()
