"""ESPnet's Whisper encoder, built from a checkpoint file instead of a model name."""

from __future__ import annotations

from typing import Optional

from espnet2.asr.encoder.whisper_encoder import OpenAIWhisperEncoder
from typeguard import typechecked

from espnet_peft.models.whisper_ckpt.checkpoint import checkpoint_as_model_name, resolve_checkpoint


class WhisperCheckpointEncoder(OpenAIWhisperEncoder):
    """``encoder: whisper_ckpt`` with ``encoder_conf: {checkpoint: path/model.pt}``.

    Same module and forward as ESPnet's ``whisper`` encoder (the class name keeps
    "Whisper" in it, which ESPnetASRModel checks to skip its own frontend)."""

    @typechecked
    def __init__(
        self,
        input_size: int = 1,
        checkpoint: str = "",
        dropout_rate: float = 0.0,
        use_specaug: bool = False,
        specaug_conf: Optional[dict] = None,
        do_pad_trim: bool = False,
    ):
        path = resolve_checkpoint(checkpoint)
        with checkpoint_as_model_name(path):
            super().__init__(input_size=input_size, dropout_rate=dropout_rate, whisper_model=path,
                             download_dir=None, use_specaug=use_specaug, specaug_conf=specaug_conf,
                             do_pad_trim=do_pad_trim)
