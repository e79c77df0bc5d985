"""Stage 8: word error rates of decoding directories.

    python -m espnet_peft.recipe score --decode_dir exp/x/decode_child_test \
        --ref data/child_test/text

Reads ESPnet's ``1best_recog/text`` and the reference ``text``; writes
``score.json`` (WER, CER, substitutions/deletions/insertions, utterance counts, and the
95 % bootstrap interval of the reported metric), ``utt_errors.tsv`` (each utterance's
errors and reference length, for paired comparisons) and a readable ``result.txt`` with
the worst utterances. An utterance missing from the
hypotheses counts as fully deleted and is reported. For S2T models (OWSM) the
hypotheses are ``1best_recog/text_nospecial``: s2t_inference's ``text`` starts with the
prompt's ``<lang><task><notimestamps>`` symbols and may hold timestamps.

``--metric`` names the error rate the result tables report (``score.json``'s
``metric``): ``wer`` (default), or ``cer`` for languages written without word spaces
(Mandarin: a WER would count whole sentences). CER ignores spaces.

``--normalize basic`` scores both sides after Unicode NFKC, case folding and replacing
every punctuation mark and symbol by a space (``score.json``'s ``normalize``): what an
OWSM model writes ("Hello, world.") then meets a corpus' normalised reference ("HELLO
WORLD"). The default ``none`` compares the texts as they are (ESPnet ASR models trained
on the corpus' own text write in its conventions).

``score.json``'s ``ci95`` is [lo, hi], the 95 % percentile bootstrap interval of the
reported metric; ``bootstrap`` says how it was drawn: {"unit": "speaker" | "utterance",
"units": how many, "resamples", "seed"}. Speakers are resampled when the reference's
directory has an ``utt2spk`` naming at least 20 speakers, else utterances; each resample
recomputes total errors / total reference length (``espnet_peft.results.bootstrap``).
"""

from __future__ import annotations

import argparse
import json
import logging
import unicodedata
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

from espnet_peft.data.kaldi_dir import read_table
from espnet_peft.results.bootstrap import RESAMPLES, SEED, UTT_ERRORS, bootstrap, write_utt_errors


def edit_counts(ref: Sequence[str], hyp: Sequence[str]) -> Tuple[int, int, int]:
    """(substitutions, deletions, insertions) of a minimum-edit alignment."""
    # Each cell holds (total edits, sub, del, ins); ties prefer substitutions.
    prev = [(j, 0, 0, j) for j in range(len(hyp) + 1)]
    for i in range(1, len(ref) + 1):
        cur = [(i, 0, i, 0)]
        for j in range(1, len(hyp) + 1):
            diag = prev[j - 1]
            if ref[i - 1] == hyp[j - 1]:
                best = diag
            else:
                best = (diag[0] + 1, diag[1] + 1, diag[2], diag[3])
            up, left = prev[j], cur[j - 1]
            if up[0] + 1 < best[0]:
                best = (up[0] + 1, up[1], up[2] + 1, up[3])
            if left[0] + 1 < best[0]:
                best = (left[0] + 1, left[1], left[2], left[3] + 1)
            cur.append(best)
        prev = cur
    _, s, d, n = prev[-1]
    return s, d, n


def tokens(text: str, unit: str = "word") -> List[str]:
    """Words, or characters without the spaces."""
    return text.split() if unit == "word" else list(text.replace(" ", ""))


UtteranceCounts = Dict[str, Tuple[int, int, int, int]]  # utt -> (sub, del, ins, ref length)


def utterance_counts(refs: Dict[str, str], hyps: Dict[str, str], unit: str = "word") -> UtteranceCounts:
    """{utterance: (substitutions, deletions, insertions, reference length)}; a missing
    hypothesis is empty (every reference token deleted)."""
    out = {}
    for utt, ref in refs.items():
        ref_tokens = tokens(ref, unit)
        out[utt] = (*edit_counts(ref_tokens, tokens(hyps.get(utt, ""), unit)), len(ref_tokens))
    return out


def _totals(counts: UtteranceCounts) -> Dict[str, float]:
    sub, dele, ins, ref = (sum(c[i] for c in counts.values()) for i in range(4))
    return {"rate": 100.0 * (sub + dele + ins) / max(ref, 1), "sub": sub, "del": dele, "ins": ins,
            "ref_units": ref}


def error_rate(refs: Dict[str, str], hyps: Dict[str, str], unit: str = "word") -> Dict[str, float]:
    return _totals(utterance_counts(refs, hyps, unit))


METRICS = ("wer", "cer")
NORMALIZERS = ("none", "basic")


def normalize(text: str, how: str = "basic") -> str:
    """``basic``: NFKC, case-folded, punctuation and symbols (Unicode P*/S*) as spaces,
    whitespace collapsed; ``none``: unchanged."""
    if how == "none":
        return text
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join("".join(" " if unicodedata.category(c)[0] in "PS" else c for c in text).split())


def score_dir(decode_dir, ref_file, metric: str = "wer", normalization: str = "none",
              resamples: int = RESAMPLES, seed: int = SEED) -> Dict[str, object]:
    decode_dir = Path(decode_dir)
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    if normalization not in NORMALIZERS:
        raise ValueError(f"normalize must be one of {NORMALIZERS}, got {normalization!r}")
    hyp_file = decode_dir / "1best_recog" / "text"
    if (decode_dir / "1best_recog" / "text_nospecial").is_file():  # written by s2t_inference only
        hyp_file = decode_dir / "1best_recog" / "text_nospecial"
    if not hyp_file.is_file():
        raise FileNotFoundError(f"no hypotheses in {hyp_file}: run the decoding stage first")
    refs = {k: normalize(v, normalization) for k, v in read_table(ref_file).items()}
    hyps = {k: normalize(v.strip(), normalization) for k, v in read_table(hyp_file).items()}
    missing = sorted(set(refs) - set(hyps))
    if missing:
        logging.warning("%s: %d of %d utterances have no hypothesis (counted as deleted), e.g. %s",
                        decode_dir, len(missing), len(refs), missing[:3])
    counts = {u: utterance_counts(refs, hyps, u) for u in ("word", "char")}
    wer, cer = _totals(counts["word"]), _totals(counts["char"])
    per_utt = {u: (s + d + i, n) for u, (s, d, i, n) in counts["word" if metric == "wer" else "char"].items()}
    utt2spk_file = Path(ref_file).parent / "utt2spk"
    utt2spk = read_table(utt2spk_file) if utt2spk_file.is_file() else None
    result = {"wer": round(wer["rate"], 2), "cer": round(cer["rate"], 2), "sub": wer["sub"],
              "del": wer["del"], "ins": wer["ins"], "ref_words": wer["ref_units"],
              "utterances": len(refs), "missing": len(missing), "ref": str(ref_file), "metric": metric,
              "normalize": normalization}
    if per_utt:
        result.update(bootstrap(per_utt, utt2spk, resamples, seed))
    (decode_dir / "score.json").write_text(json.dumps(result, indent=1) + "\n")
    write_utt_errors(decode_dir / UTT_ERRORS, per_utt, utt2spk)
    worst = sorted(((errors, u) for u, (errors, _) in per_utt.items()), reverse=True)
    interval = (f"; {metric.upper()} 95 % interval {result['ci95'][0]:.2f}-{result['ci95'][1]:.2f}"
                f" ({result['bootstrap']['unit']} bootstrap)" if "ci95" in result else "")
    lines = [f"WER {result['wer']:.2f}% (sub {result['sub']}, del {result['del']}, ins {result['ins']}, "
             f"{result['ref_words']} words, {len(refs)} utterances); CER {result['cer']:.2f}%"
             f"{'' if metric == 'wer' else ' (the reported metric)'}{interval}", ""]
    for errors, utt in worst[:20]:
        if errors:
            lines += [f"{utt} ({errors} errors)", f"  REF: {refs[utt]}", f"  HYP: {hyps.get(utt, '')}"]
    (decode_dir / "result.txt").write_text("\n".join(lines) + "\n")
    return result


def main(cmd=None):
    """Stage 8: WER/CER of decoding directories (score.json, result.txt)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--decode_dir", required=True, action="append")
    parser.add_argument("--ref", required=True, action="append",
                        help="reference text, one per --decode_dir, in the same order")
    parser.add_argument("--metric", default="wer", choices=METRICS, help="the error rate the tables report")
    parser.add_argument("--normalize", default="none", choices=NORMALIZERS,
                        help="text normalisation of both sides before scoring (see above)")
    parser.add_argument("--bootstrap_resamples", type=int, default=RESAMPLES,
                        help="resamples of the 95 %% bootstrap interval")
    parser.add_argument("--bootstrap_seed", type=int, default=SEED, help="seed of the bootstrap resampling")
    args = parser.parse_args(cmd)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s score: %(message)s")
    if len(args.decode_dir) != len(args.ref):
        parser.error("give one --ref per --decode_dir")
    for d, r in zip(args.decode_dir, args.ref):
        res = score_dir(d, r, args.metric, args.normalize, args.bootstrap_resamples, args.bootstrap_seed)
        logging.info("%s: %s %.2f%% (95 %% interval %s) over %d utterances", d, args.metric.upper(),
                     res[args.metric], res.get("ci95", "none"), res["utterances"])


if __name__ == "__main__":
    main()
