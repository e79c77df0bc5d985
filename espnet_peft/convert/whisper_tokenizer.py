"""Whisper's tokenizer as an ESPnet ``hugging_face`` tokenizer directory + token list.

ESPnet's own Whisper tokenizer (``token_type: whisper_multilingual``) needs the
Hugging Face-based tokenizer of openai-whisper <= 20230308 *and* transformers < 5
(it reads ``additional_special_tokens``, which transformers 5 removed). The model
package ships Whisper's ``tokenizer.json``; ESPnet's ``hugging_face`` token type loads
it with ``AutoTokenizer`` from a local directory, offline. Two edits make it match the
model: the 1501 timestamp tokens ``<|0.00|>`` ... ``<|30.00|>`` (ids 50364-51864, in the
model's vocabulary but not in that file) are added as special tokens, and a space is
put before the first word (Whisper's transcripts start with one: " the cat").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Union

N_TIMESTAMPS = 1501
# Prompt Whisper expects before the text of an English transcription without timestamps.
TASK_PREFIX = ("<|startoftranscript|>", "<|en|>", "<|transcribe|>")
SOS = "<|notimestamps|>"  # ESPnet's sos: the last prompt token; the prefix goes before it
EOS = "<|endoftext|>"


def write_tokenizer_dir(tokenizer_json: Union[str, Path], out_dir: Union[str, Path], n_vocab: int) -> List[str]:
    """Write ``out_dir/{tokenizer.json,tokenizer_config.json}`` and return the token
    list (index = id) of length ``n_vocab``."""
    spec = json.loads(Path(tokenizer_json).read_text(encoding="utf-8"))
    added = spec["added_tokens"]
    next_id = max([a["id"] for a in added] + list(spec["model"]["vocab"].values())) + 1
    present = {a["content"] for a in added}
    for i in range(N_TIMESTAMPS):
        content = f"<|{i * 0.02:.2f}|>"
        if content not in present:
            added.append({"id": next_id, "content": content, "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": False, "special": True})
            next_id += 1
    if spec.get("pre_tokenizer", {}).get("type") == "ByteLevel":
        spec["pre_tokenizer"]["add_prefix_space"] = True
    tokens = [None] * next_id
    for tok, i in spec["model"]["vocab"].items():
        tokens[i] = tok
    for a in added:
        tokens[a["id"]] = a["content"]
    if len(tokens) != n_vocab or None in tokens:
        raise ValueError(f"{tokenizer_json}: {len(tokens)} token ids (gaps: {tokens.count(None)}) "
                         f"after adding timestamps, but the model has n_vocab = {n_vocab}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "tokenizer.json").write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
    (out / "tokenizer_config.json").write_text(json.dumps(
        {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": 448,
         "eos_token": EOS, "bos_token": TASK_PREFIX[0], "unk_token": EOS}, indent=1) + "\n")
    return tokens


def write_token_list(tokens: List[str], path: Union[str, Path]) -> None:
    """ESPnet's ``token_list`` file: one token per line, line number = id."""
    # Whisper's id 50256 is the empty string: an empty line keeps the numbering.
    bad = [i for i, t in enumerate(tokens) if any(c.isspace() for c in t)]
    if bad:
        raise ValueError(f"token ids {bad[:5]} contain whitespace; cannot write {path} one per line")
    Path(path).write_text("".join(t + "\n" for t in tokens), encoding="utf-8")
