"""ESPnet ASR encoder/decoder choices added by espnet_peft.

Importing ``espnet_peft`` calls ``register_model_choices()``: once ESPnet's
``espnet2.tasks.asr`` is imported (now or later; importing it here would cost every
``import espnet_peft`` seconds), its encoder and decoder choices gain ``whisper_ckpt``
(an openai-whisper checkpoint file, ``espnet_peft.models.whisper_ckpt``) and its encoder
choices ``hf_wav2vec2`` (a local Hugging Face wav2vec2/XLS-R directory,
``espnet_peft.models.hf_wav2vec2``). ESPnet's by-name ``whisper`` choices stay as they
are, for machines that can download the models.
"""

from __future__ import annotations

from espnet_peft.core.after_import import after_import

WHISPER_CHOICE = "whisper_ckpt"
_ASR_TASK_MODULE = "espnet2.tasks.asr"


def _add_choices(module) -> None:
    from espnet_peft.models.hf_wav2vec2 import CHOICE as W2V_CHOICE, HFWav2Vec2Encoder
    from espnet_peft.models.whisper_ckpt.decoder import WhisperCheckpointDecoder
    from espnet_peft.models.whisper_ckpt.encoder import WhisperCheckpointEncoder

    module.encoder_choices.classes[WHISPER_CHOICE] = WhisperCheckpointEncoder
    module.decoder_choices.classes[WHISPER_CHOICE] = WhisperCheckpointDecoder
    module.encoder_choices.classes[W2V_CHOICE] = HFWav2Vec2Encoder


def register_model_choices() -> None:
    """Add the choices to ASRTask's encoder/decoder choices (now or on import)."""
    after_import(_ASR_TASK_MODULE, _add_choices)
