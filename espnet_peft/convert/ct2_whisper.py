"""CTranslate2 ``WhisperSpec`` variables <-> an openai-whisper checkpoint.

openai-whisper's checkpoint is ``{"dims": ModelDimensions as a dict, "model_state_dict":
...}``, what ``whisper.load_model(path)`` reads. CTranslate2 (its Hugging Face
converter, spec revision 3) stores the same weights under other names, with the
attention input projections fused: self-attention q|k|v in one ``linear_0``, and the
decoder's cross-attention q in ``linear_0`` and k|v in ``linear_1``. Whisper's key
projection has no bias; CTranslate2 stores zeros there. (A key bias would add the same
number to every logit of a query, which softmax ignores, so dropping it is exact.)
"""

from __future__ import annotations

import re
from typing import Dict, List

import torch

from espnet_peft.convert.ct2_format import CT2FormatError, CT2Model

SPEC_NAME = "WhisperSpec"
SPEC_REVISION = 3
GELU = 3  # CTranslate2's Activation.GELU

# CTranslate2 sub-name -> openai-whisper sub-name, per block and at the top.
_LINEAR = {"weight": "weight", "bias": "bias"}
_NORM = {"gamma": "weight", "beta": "bias"}
_BLOCK_PARTS = [  # (ct2 module, openai module, parameter names)
    ("self_attention/linear_1", "attn.out", _LINEAR),
    ("self_attention/layer_norm", "attn_ln", _NORM),
    ("ffn/linear_0", "mlp.0", _LINEAR),
    ("ffn/linear_1", "mlp.2", _LINEAR),
    ("ffn/layer_norm", "mlp_ln", _NORM),
]
_CROSS_PARTS = [
    ("attention/linear_0", "cross_attn.query", _LINEAR),
    ("attention/linear_2", "cross_attn.out", _LINEAR),
    ("attention/layer_norm", "cross_attn_ln", _NORM),
]
_TOP_PARTS = [
    ("encoder/conv1", "encoder.conv1", _LINEAR),
    ("encoder/conv2", "encoder.conv2", _LINEAR),
    ("encoder/layer_norm", "encoder.ln_post", _NORM),
    ("decoder/layer_norm", "decoder.ln", _NORM),
]
_TOP_TENSORS = [
    ("encoder/position_encodings/encodings", "encoder.positional_embedding"),
    ("decoder/embeddings/weight", "decoder.token_embedding.weight"),
    ("decoder/position_encodings/encodings", "decoder.positional_embedding"),
]
# Scalars that must hold these values for the openai-whisper architecture.
_EXPECTED_FLAGS = {"decoder/pre_norm": 1, "decoder/scale_embeddings": 0, "decoder/activation": GELU,
                   "decoder/alibi": 0}


def _num_layers(model: CT2Model, side: str) -> int:
    found = {int(m.group(1)) for name in model.variables
             if (m := re.match(rf"{side}/layer_(\d+)/", name))}
    if not found or found != set(range(len(found))):
        raise CT2FormatError(f"{side} layers in the model are {sorted(found)}; expected layer_0..layer_N-1")
    return len(found)


def _need(model: CT2Model, name: str) -> torch.Tensor:
    if not model.has(name):
        raise CT2FormatError(f"variable {name!r} is missing from the {model.spec} model")
    return model.get(name)


def _split(t: torch.Tensor, n: int, name: str) -> List[torch.Tensor]:
    if t.shape[0] % n:
        raise CT2FormatError(f"fused variable {name!r} has {t.shape[0]} rows, not a multiple of {n}")
    return list(torch.chunk(t, n, dim=0))


def check_whisper_spec(model: CT2Model) -> None:
    """Refuse anything but a float WhisperSpec of the known revision."""
    if model.spec != SPEC_NAME:
        raise CT2FormatError(f"spec is {model.spec!r}, expected {SPEC_NAME!r} (a Whisper model)")
    if model.revision != SPEC_REVISION:
        raise CT2FormatError(f"{SPEC_NAME} revision {model.revision}, this converter knows revision {SPEC_REVISION}")
    quantized = sorted(n for n in model.variables if n.endswith("weight_scale"))
    if quantized:
        raise CT2FormatError(f"the model is quantized ({quantized[0]}, ...); convert it with "
                             "--quantization float16 or float32")
    for name, want in _EXPECTED_FLAGS.items():
        if model.has(name) and int(model.get(name).item()) != want:
            raise CT2FormatError(f"{name} = {int(model.get(name).item())}, expected {want} for Whisper")


def ct2_to_openai(model: CT2Model) -> Dict:
    """``{"dims": {...}, "model_state_dict": {...}}`` from a WhisperSpec model, tensors
    in their stored dtype."""
    check_whisper_spec(model)
    sd: Dict[str, torch.Tensor] = {}

    def put(ct2: str, openai: str, names: Dict[str, str]) -> None:
        for c, o in names.items():
            sd[f"{openai}.{o}"] = _need(model, f"{ct2}/{c}")

    for ct2, openai, names in _TOP_PARTS:
        put(ct2, openai, names)
    for ct2, openai in _TOP_TENSORS:
        sd[openai] = _need(model, ct2)
    emb = sd["decoder.token_embedding.weight"]
    if model.has("decoder/projection/weight") and not torch.equal(model.get("decoder/projection/weight"), emb):
        raise CT2FormatError("decoder/projection/weight differs from decoder/embeddings/weight; "
                             "openai-whisper ties the output projection to the token embedding")
    if model.has("decoder/projection/bias"):
        raise CT2FormatError("decoder/projection/bias present; openai-whisper's output projection has no bias")

    n_enc, n_dec = _num_layers(model, "encoder"), _num_layers(model, "decoder")
    for side, openai_side, n in (("encoder", "encoder", n_enc), ("decoder", "decoder", n_dec)):
        for i in range(n):
            ct2, blk = f"{side}/layer_{i}", f"{openai_side}.blocks.{i}"
            fused = f"{ct2}/self_attention/linear_0"
            q, k, v = _split(_need(model, fused + "/weight"), 3, fused + "/weight")
            qb, _, vb = _split(_need(model, fused + "/bias"), 3, fused + "/bias")
            sd.update({f"{blk}.attn.query.weight": q, f"{blk}.attn.query.bias": qb,
                       f"{blk}.attn.key.weight": k, f"{blk}.attn.value.weight": v,
                       f"{blk}.attn.value.bias": vb})
            parts = _BLOCK_PARTS + (_CROSS_PARTS if side == "decoder" else [])
            for c, o, names in parts:
                put(f"{ct2}/{c}", f"{blk}.{o}", names)
            if side == "decoder":
                kv = f"{ct2}/attention/linear_1"
                k, v = _split(_need(model, kv + "/weight"), 2, kv + "/weight")
                _, vb = _split(_need(model, kv + "/bias"), 2, kv + "/bias")
                sd.update({f"{blk}.cross_attn.key.weight": k, f"{blk}.cross_attn.value.weight": v,
                           f"{blk}.cross_attn.value.bias": vb})

    conv1 = sd["encoder.conv1.weight"]
    dims = dict(
        n_mels=conv1.shape[1], n_audio_ctx=sd["encoder.positional_embedding"].shape[0],
        n_audio_state=conv1.shape[0], n_audio_head=int(_need(model, "encoder/num_heads").item()),
        n_audio_layer=n_enc, n_vocab=emb.shape[0], n_text_ctx=sd["decoder.positional_embedding"].shape[0],
        n_text_state=emb.shape[1], n_text_head=int(_need(model, "decoder/num_heads").item()),
        n_text_layer=n_dec)
    return {"dims": dims, "model_state_dict": {k: t.contiguous() for k, t in sd.items()}}


def openai_to_ct2(checkpoint: Dict) -> CT2Model:
    """The inverse of ct2_to_openai (fused projections, zero key biases, aliased output
    projection): writes test fixtures in CTranslate2's layout."""
    dims, sd = checkpoint["dims"], checkpoint["model_state_dict"]
    var: Dict[str, torch.Tensor] = {}

    def take(ct2: str, openai: str, names: Dict[str, str]) -> None:
        for c, o in names.items():
            var[f"{ct2}/{c}"] = sd[f"{openai}.{o}"]

    for ct2, openai, names in _TOP_PARTS:
        take(ct2, openai, names)
    for ct2, openai in _TOP_TENSORS:
        var[ct2] = sd[openai]
    for side, n in (("encoder", dims["n_audio_layer"]), ("decoder", dims["n_text_layer"])):
        for i in range(n):
            ct2, blk = f"{side}/layer_{i}", f"{side}.blocks.{i}"
            qb = sd[f"{blk}.attn.query.bias"]
            var[f"{ct2}/self_attention/linear_0/weight"] = torch.cat(
                [sd[f"{blk}.attn.{p}.weight"] for p in ("query", "key", "value")])
            var[f"{ct2}/self_attention/linear_0/bias"] = torch.cat(
                [qb, torch.zeros_like(qb), sd[f"{blk}.attn.value.bias"]])
            for c, o, names in _BLOCK_PARTS + (_CROSS_PARTS if side == "decoder" else []):
                take(f"{ct2}/{c}", f"{blk}.{o}", names)
            if side == "decoder":
                var[f"{ct2}/attention/linear_1/weight"] = torch.cat(
                    [sd[f"{blk}.cross_attn.key.weight"], sd[f"{blk}.cross_attn.value.weight"]])
                vb = sd[f"{blk}.cross_attn.value.bias"]
                var[f"{ct2}/attention/linear_1/bias"] = torch.cat([torch.zeros_like(vb), vb])
    var["encoder/num_heads"] = torch.tensor(dims["n_audio_head"], dtype=torch.int16)
    var["decoder/num_heads"] = torch.tensor(dims["n_text_head"], dtype=torch.int16)
    for name, value in _EXPECTED_FLAGS.items():
        var[name] = torch.tensor(value, dtype=torch.int8)
    return CT2Model(SPEC_NAME, SPEC_REVISION, var, {"decoder/projection/weight": "decoder/embeddings/weight"})

