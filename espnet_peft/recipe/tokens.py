"""Stage 3: a SentencePiece model and the ESPnet token list that goes with it.

    python -m espnet_peft.recipe tokens --text data/adult_train/text \
        --out_dir data/token_list/bpe_unigram150 --vocab_size 150

Writes ``bpe.model`` and ``tokens.txt`` (``<blank>``, ``<unk>``, the pieces,
``<sos/eos>``: the layout ESPnet's asr.sh produces).

    python -m espnet_peft.recipe tokens --check --bpemodel bpe.model \
        --data_dir dump/raw/child_train [--data_dir ...] [--on_error skip]

checks that the tokenizer covers every character of the transcripts (ESPnet would
silently turn the others into ``<unk>``): ``stop`` fails naming each utterance and
character, ``skip`` drops those utterances (listed in ``<dir>/skipped``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Sequence


def _transcripts(text_file) -> List[str]:
    return [line.partition(" ")[2].strip() for line in Path(text_file).read_text(encoding="utf-8").splitlines()]


def train_bpe(text_file, out_dir, vocab_size: int, model_type: str = "unigram",
              cover_texts: Sequence = ()) -> Path:
    """Train on ``text_file``; every character of ``cover_texts`` (e.g. the target
    domains' training transcripts) is kept in the vocabulary as well, so adapting to
    them never meets an ``<unk>`` character."""
    import sentencepiece as spm

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = [line for line in _transcripts(text_file) if line]
    if not lines:
        raise ValueError(f"{text_file}: no transcripts to train the tokenizer on")
    seen = set("".join(lines))
    required = {c for t in cover_texts for line in _transcripts(t) for c in line
                if not c.isspace()} - seen
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
        corpus = f.name
    try:
        spm.SentencePieceTrainer.train(
            input=corpus, model_prefix=str(out_dir / "bpe"), vocab_size=vocab_size,
            model_type=model_type, character_coverage=1.0, input_sentence_size=100_000_000,
            unk_surface="<unk>", hard_vocab_limit=False, minloglevel=2,
            required_chars="".join(sorted(required)))
    finally:
        Path(corpus).unlink()
    proc = spm.SentencePieceProcessor(model_file=str(out_dir / "bpe.model"))
    pieces = [proc.id_to_piece(i) for i in range(proc.get_piece_size())
              if not (proc.is_unknown(i) or proc.is_control(i))]
    tokens = ["<blank>", "<unk>", *pieces, "<sos/eos>"]
    (out_dir / "tokens.txt").write_text("\n".join(tokens) + "\n", encoding="utf-8")
    return out_dir / "tokens.txt"


def check_coverage(text_file, bpemodel) -> Dict[str, List[str]]:
    """{utterance id: [characters the SentencePiece model cannot represent]}."""
    import sentencepiece as spm

    proc = spm.SentencePieceProcessor(model_file=str(bpemodel))
    unk, known = proc.unk_id(), {}
    out = {}
    for line in Path(text_file).read_text(encoding="utf-8").splitlines():
        utt, _, text = line.partition(" ")
        missing = []
        for ch in dict.fromkeys(text.replace(" ", "")):
            if ch not in known:
                known[ch] = unk not in proc.encode(ch)
            if not known[ch]:
                missing.append(ch)
        if missing:
            out[utt] = missing
    return out


def check_dirs(data_dirs, bpemodel, on_error: str = "stop", report_only=()) -> int:
    """Check every ``<dir>/text``; returns the number of utterances dropped. Test sets go
    in ``report_only``: their problems are logged, never dropped (that would make the WER
    incomparable) and never fatal."""
    from espnet_peft.data.kaldi_dir import read_table
    from espnet_peft.recipe.format_data import SKIPPED_FILE, DataError, keep_only

    dropped = 0
    report_only = {str(Path(d)) for d in report_only}
    for d in map(Path, [*data_dirs, *report_only]):
        bad = check_coverage(d / "text", bpemodel)
        if not bad:
            continue
        problems = {u: f"{d}/text: characters {''.join(c)!r} are not in {bpemodel}" for u, c in bad.items()}
        report = [f"{u}: {m}" for u, m in problems.items()]
        if str(d) in report_only:
            print(f"tokens: WARNING: {d}: {len(bad)} transcript(s) use characters the tokenizer lacks "
                  f"(kept; scored as errors), e.g.\n  " + "\n  ".join(report[:5]), file=sys.stderr)
            continue
        if on_error == "stop":
            raise DataError(f"{d}: {len(bad)} transcript(s) use characters the tokenizer lacks:\n  "
                            + "\n  ".join(report[:20]) + "\nnormalise the text (local/data.sh), or drop "
                            "them with --on_error skip")
        keep_only(d, set(read_table(d / "text")) - set(bad))
        with (d / SKIPPED_FILE).open("a", encoding="utf-8") as f:
            f.writelines(f"{u}\t{m}\n" for u, m in problems.items())
        print(f"tokens: {d}: skipped {len(bad)} utterance(s) with characters outside the tokenizer; "
              f"list: {d / SKIPPED_FILE}", file=sys.stderr)
        dropped += len(bad)
    return dropped


def main(cmd=None):
    """Stage 3: train the BPE model and token list, or check that it covers the transcripts."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="check coverage instead of training")
    parser.add_argument("--bpemodel", help="--check: the SentencePiece model")
    parser.add_argument("--data_dir", action="append", default=[], help="--check: repeat for several")
    parser.add_argument("--report_only_dir", action="append", default=[],
                        help="--check: test sets, whose problems are only reported")
    parser.add_argument("--cover_text", action="append", default=[],
                        help="training: texts whose characters the vocabulary must include")
    parser.add_argument("--on_error", choices=["stop", "skip"], default="stop")
    parser.add_argument("--text")
    parser.add_argument("--out_dir")
    parser.add_argument("--vocab_size", type=int, default=150)
    parser.add_argument("--model_type", default="unigram", choices=["unigram", "bpe", "char"])
    args = parser.parse_args(cmd)
    if args.check:
        if not args.bpemodel or not (args.data_dir or args.report_only_dir):
            parser.error("--check needs --bpemodel and --data_dir")
        from espnet_peft.recipe.format_data import DataError
        try:
            check_dirs(args.data_dir, args.bpemodel, args.on_error, args.report_only_dir)
        except DataError as e:
            raise SystemExit(f"tokens: {e}") from None
        return
    if not args.text or not args.out_dir:
        parser.error("--text and --out_dir are required")
    print(train_bpe(args.text, args.out_dir, args.vocab_size, args.model_type, args.cover_text))


if __name__ == "__main__":
    main()
