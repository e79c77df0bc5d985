"""ESPnet's Whisper decoder, built from a checkpoint file, with an optional fixed prompt.

ESPnet feeds the decoder ``[sos] + tokens``. Whisper expects its task prompt first
(``<|startoftranscript|><|en|><|transcribe|><|notimestamps|>``). With ``sos`` set to the
prompt's last token (``model_conf: {sym_sos: "<|notimestamps|>"}``) and ``prefix_ids``
the ids of the tokens before it, this decoder runs Whisper on ``prefix + [sos] +
tokens`` and returns the outputs at ESPnet's positions only, in training and in beam
search alike, so the zero-shot model sees the prompt it was trained with and the loss
covers exactly ESPnet's targets.
"""

from __future__ import annotations

from typing import List, Optional, Tuple

import torch
from espnet2.asr.decoder.whisper_decoder import OpenAIWhisperDecoder
from typeguard import typechecked

from espnet_peft.models.whisper_ckpt.checkpoint import checkpoint_as_model_name, resolve_checkpoint


class WhisperCheckpointDecoder(OpenAIWhisperDecoder):
    """``decoder: whisper_ckpt`` with ``decoder_conf: {checkpoint: path/model.pt,
    prefix_ids: [50258, 50259, 50359]}``."""

    @typechecked
    def __init__(
        self,
        vocab_size: int,
        encoder_output_size: int,
        checkpoint: str = "",
        dropout_rate: float = 0.0,
        load_origin_token_embedding: bool = False,
        prefix_ids: Optional[List[int]] = None,
    ):
        path = resolve_checkpoint(checkpoint)
        with checkpoint_as_model_name(path):
            super().__init__(vocab_size=vocab_size, encoder_output_size=encoder_output_size,
                             dropout_rate=dropout_rate, whisper_model=path, download_dir=None,
                             load_origin_token_embedding=load_origin_token_embedding)
        bad = [i for i in prefix_ids or [] if not 0 <= i < vocab_size]
        if bad:
            raise ValueError(f"decoder_conf prefix_ids {bad} are outside the vocabulary (size {vocab_size})")
        self.register_buffer("prefix_ids", torch.tensor(prefix_ids or [], dtype=torch.long), persistent=False)

    def _with_prefix(self, tokens: torch.Tensor) -> torch.Tensor:
        if self.prefix_ids.numel() == 0:
            return tokens
        return torch.cat([self.prefix_ids.expand(tokens.size(0), -1), tokens], dim=1)

    def forward(self, hs_pad, hlens, ys_in_pad, ys_in_lens) -> Tuple[torch.Tensor, torch.Tensor]:
        x, olens = super().forward(hs_pad, hlens, self._with_prefix(ys_in_pad), ys_in_lens)
        return x[:, self.prefix_ids.numel():].contiguous(), olens

    def forward_one_step(self, tgt, tgt_mask, memory, *, cache: List[torch.Tensor] = None):
        # Scores the last position only, which the prefix does not move.
        return super().forward_one_step(self._with_prefix(tgt), tgt_mask, memory, cache=cache)
