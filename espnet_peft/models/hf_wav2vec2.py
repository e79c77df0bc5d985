"""A Hugging Face wav2vec2 / XLS-R model from a local directory as an ESPnet ASR encoder.

``encoder: hf_wav2vec2`` (registered with ``whisper_ckpt`` when ``espnet_peft`` is
imported) with ``encoder_conf: {model_dir: path/to/wav2vec2-xls-r-300m}``, ``frontend:
null`` and ``input_size: 1``: the model reads the raw 16 kHz waveform, ESPnet's CTC head
(and optional decoder) sit on its last hidden state. The directory is what
``huggingface-cli download facebook/wav2vec2-xls-r-300m --local-dir DIR`` or
``Wav2Vec2Model.save_pretrained(DIR)`` writes; nothing is downloaded here
(``local_files_only=True``).

Adapter targets are Hugging Face's module names, matched as suffixes by
``target_modules``: ``q_proj``, ``k_proj``, ``v_proj``, ``out_proj`` (self-attention) and
``intermediate_dense``, ``output_dense`` (feed-forward), under
``encoder.model.encoder.layers.N``. (``feature_projection.projection`` is also a Linear.)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional, Tuple

import torch
from espnet2.asr.encoder.abs_encoder import AbsEncoder

CHOICE = "hf_wav2vec2"
TARGET_MODULES = ["q_proj", "k_proj", "v_proj", "out_proj", "intermediate_dense", "output_dense"]
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                "pytorch_model.bin.index.json")


class Wav2Vec2DirectoryError(FileNotFoundError):
    pass


def check_model_dir(model_dir) -> Path:
    """The directory, or an error naming it and the files a model directory holds."""
    path = Path(str(model_dir)).expanduser()
    expected = f"config.json and one of {', '.join(WEIGHT_FILES)}"
    if not str(model_dir):
        raise Wav2Vec2DirectoryError(f"hf_wav2vec2: encoder_conf model_dir is not set (a directory with {expected})")
    if not path.is_dir():
        raise Wav2Vec2DirectoryError(
            f"hf_wav2vec2: model directory {path} not found; expected a Hugging Face model directory with "
            f"{expected} (e.g. huggingface-cli download facebook/wav2vec2-xls-r-300m --local-dir {path})")
    missing = []
    if not (path / "config.json").is_file():
        missing.append("config.json")
    if not any((path / f).is_file() for f in WEIGHT_FILES):
        missing.append(f"weights ({' or '.join(WEIGHT_FILES)})")
    if missing:
        raise Wav2Vec2DirectoryError(
            f"hf_wav2vec2: model directory {path} lacks {' and '.join(missing)}; expected {expected}")
    return path


def _do_normalize(path: Path) -> bool:
    """The feature extractor's ``do_normalize`` (XLS-R: True); True without the file."""
    pre = path / "preprocessor_config.json"
    if pre.is_file():
        return bool(json.loads(pre.read_text()).get("do_normalize", True))
    return True


def _load(path: Path, overrides: dict):
    from transformers import Wav2Vec2Model

    return Wav2Vec2Model.from_pretrained(str(path), local_files_only=True, **overrides)


class HFWav2Vec2Encoder(AbsEncoder):
    """``transformers.Wav2Vec2Model`` over raw audio (B, T) -> (B, T', hidden_size).

    Options: ``freeze_feature_encoder`` (the CNN, as HF's fine-tuning scripts do);
    ``normalize_waveform`` (zero mean, unit variance per utterance over its real samples;
    default: the directory's ``preprocessor_config.json`` ``do_normalize``, else True);
    ``use_attention_mask`` (default: HF's rule, only for ``feat_extract_norm == "layer"``
    models such as XLS-R and large-lv60; ``group`` models like wav2vec2-base were trained
    on zero-padded batches without a mask); ``config_overrides`` (passed to
    ``from_pretrained``, e.g. ``{mask_time_prob: 0.05, layerdrop: 0.0}``).
    """

    def __init__(
        self,
        input_size: int = 1,
        model_dir: str = "",
        freeze_feature_encoder: bool = True,
        normalize_waveform: Optional[bool] = None,
        use_attention_mask: Optional[bool] = None,
        config_overrides: Optional[dict] = None,
    ):
        super().__init__()
        if input_size != 1:
            raise ValueError(f"hf_wav2vec2 reads raw audio: use frontend: null and input_size: 1 "
                             f"(got input_size {input_size})")
        self.model_dir = check_model_dir(model_dir)
        self.config_overrides = dict(config_overrides or {})
        self.model = _load(self.model_dir, self.config_overrides)
        self.freeze_feature_encoder = freeze_feature_encoder
        if freeze_feature_encoder:
            self.model.freeze_feature_encoder()
        self.normalize_waveform = (_do_normalize(self.model_dir) if normalize_waveform is None
                                   else normalize_waveform)
        self.use_attention_mask = (self.model.config.feat_extract_norm == "layer"
                                   if use_attention_mask is None else use_attention_mask)

    def output_size(self) -> int:
        return self.model.config.hidden_size

    def reload_pretrained_parameters(self) -> None:
        """ESPnet's ``--init`` re-initialises every parameter and then calls this."""
        self.model.load_state_dict(_load(self.model_dir, self.config_overrides).state_dict())
        if self.freeze_feature_encoder:
            self.model.freeze_feature_encoder()

    def forward(
        self, xs_pad: torch.Tensor, ilens: torch.Tensor, prev_states: torch.Tensor = None
    ) -> Tuple[torch.Tensor, torch.Tensor, Optional[torch.Tensor]]:
        if xs_pad.dim() == 3:  # (B, T, 1) from a data loader with a channel axis
            xs_pad = xs_pad.squeeze(-1)
        ilens = ilens.to(xs_pad.device)
        mask = torch.arange(xs_pad.size(1), device=xs_pad.device)[None, :] < ilens[:, None]
        xs = xs_pad.float().masked_fill(~mask, 0.0)
        if self.normalize_waveform:
            n = ilens.clamp(min=1).to(xs.dtype)[:, None]
            mean = xs.sum(1, keepdim=True) / n
            var = ((xs - mean).masked_fill(~mask, 0.0) ** 2).sum(1, keepdim=True) / n
            xs = ((xs - mean) / torch.sqrt(var + 1e-7)).masked_fill(~mask, 0.0)
        out = self.model(xs, attention_mask=mask.long() if self.use_attention_mask else None)
        olens = self.model._get_feat_extract_output_lengths(ilens).long()
        hidden = out.last_hidden_state
        olens = olens.clamp(max=hidden.size(1))
        return hidden, olens, None
