"""Stage 3: a SentencePiece model and the ESPnet token list that goes with it.

    python -m espnet_peft.recipe.tokens --text data/adult_train/text \
        --out_dir data/token_list/bpe_unigram150 --vocab_size 150

Writes ``bpe.model`` and ``tokens.txt`` (``<blank>``, ``<unk>``, the pieces,
``<sos/eos>``: the layout ESPnet's asr.sh produces).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path


def train_bpe(text_file, out_dir, vocab_size: int, model_type: str = "unigram") -> Path:
    import sentencepiece as spm

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = [line.partition(" ")[2].strip() for line in
             Path(text_file).read_text(encoding="utf-8").splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        raise ValueError(f"{text_file}: no transcripts to train the tokenizer on")
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
        corpus = f.name
    try:
        spm.SentencePieceTrainer.train(
            input=corpus, model_prefix=str(out_dir / "bpe"), vocab_size=vocab_size,
            model_type=model_type, character_coverage=1.0, input_sentence_size=100_000_000,
            unk_surface="<unk>", hard_vocab_limit=False, minloglevel=2)
    finally:
        Path(corpus).unlink()
    proc = spm.SentencePieceProcessor(model_file=str(out_dir / "bpe.model"))
    pieces = [proc.id_to_piece(i) for i in range(proc.get_piece_size())
              if not (proc.is_unknown(i) or proc.is_control(i))]
    tokens = ["<blank>", "<unk>", *pieces, "<sos/eos>"]
    (out_dir / "tokens.txt").write_text("\n".join(tokens) + "\n", encoding="utf-8")
    return out_dir / "tokens.txt"


def main(cmd=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--text", required=True)
    parser.add_argument("--out_dir", required=True)
    parser.add_argument("--vocab_size", type=int, default=150)
    parser.add_argument("--model_type", default="unigram", choices=["unigram", "bpe", "char"])
    args = parser.parse_args(cmd)
    print(train_bpe(args.text, args.out_dir, args.vocab_size, args.model_type))


if __name__ == "__main__":
    main()
