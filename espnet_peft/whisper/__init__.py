"""Whisper from a checkpoint file in ESPnet, and the CTranslate2 -> openai-whisper converter.

Importing this package (``espnet_peft`` does) calls ``register_whisper_choices()``: once ESPnet's
``espnet2.tasks.asr`` is imported (now or later; importing it here would cost every
``import espnet_peft`` seconds), its encoder and decoder choices gain ``whisper_ckpt``
(``WhisperCheckpointEncoder`` / ``WhisperCheckpointDecoder``). ESPnet's by-name
``whisper`` choices stay as they are, for machines that can download the models.
"""

from __future__ import annotations

from espnet_peft.after_import import after_import

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


def register_whisper_choices() -> None:
    """Add ``whisper_ckpt`` to ASRTask's encoder/decoder choices (now or on import)."""
    after_import(_ASR_TASK_MODULE, _add_choices)


register_whisper_choices()
