"""Bootstrap confidence intervals of an error rate, and the per-utterance error file that
scoring (``espnet_peft.recipe.score``, stage 8) writes next to ``score.json``.

An error rate is a ratio of totals, 100 * sum(errors) / sum(reference tokens), so each
bootstrap resample draws units with replacement and recomputes that ratio from the drawn
units' totals (not a mean of per-utterance rates, which would weigh a two-word utterance
like a forty-word one). The interval is the percentile interval of ``RESAMPLES``
resamples drawn with a fixed ``SEED``, so the same scores give the same interval.

The unit is the speaker when the set has at least ``MIN_SPEAKERS`` speakers (from the
data directory's ``utt2spk``, covering every scored utterance), else the utterance.
Utterances of one speaker share a voice, so their errors are correlated; resampling
utterances as if independent would then give too narrow an interval. With fewer
speakers a speaker-level interval rests on too few draws to mean much, and the
utterance-level one is reported (narrower than the truth where speakers differ).

``utt_errors.tsv``: a header line, then one line per scored utterance: utterance id,
speaker (``-`` when unknown), errors (substitutions + deletions + insertions) and
reference length, in words for WER or characters for CER (``score.json``'s ``metric``).
Two systems decoded on the same set can be compared pairwise from these files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

RESAMPLES = 1000
SEED = 0
LEVEL = 0.95
MIN_SPEAKERS = 20
UTT_ERRORS = "utt_errors.tsv"
UTT_ERRORS_HEADER = ("utterance", "speaker", "errors", "ref_units")
NO_SPEAKER = "-"
_DRAWS_PER_CHUNK = 1_000_000  # resampled unit indices held in memory at once

Counts = Tuple[int, int]  # (errors, reference tokens)


def resampling_units(per_utt: Mapping[str, Counts],
                     utt2spk: Optional[Mapping[str, str]] = None) -> Tuple[str, List[Counts]]:
    """("speaker" | "utterance", the units' (errors, reference tokens) totals), in sorted
    id order; speakers when ``utt2spk`` names one for every utterance and there are at
    least ``MIN_SPEAKERS`` of them."""
    utts = sorted(per_utt)
    if utt2spk and all(u in utt2spk for u in utts) and len({utt2spk[u] for u in utts}) >= MIN_SPEAKERS:
        totals: Dict[str, List[int]] = {}
        for u in utts:
            t = totals.setdefault(utt2spk[u], [0, 0])
            t[0] += per_utt[u][0]
            t[1] += per_utt[u][1]
        return "speaker", [(e, n) for _, (e, n) in sorted(totals.items())]
    return "utterance", [tuple(per_utt[u]) for u in utts]


def rate_interval(units: Sequence[Counts], resamples: int = RESAMPLES, seed: int = SEED,
                  level: float = LEVEL) -> Tuple[float, float]:
    """The percentile bootstrap interval (in %) of 100 * sum(errors) / sum(reference
    tokens) over ``units``, drawn with replacement ``resamples`` times."""
    if not units:
        raise ValueError("no units to resample: the set has no scored utterances")
    if resamples < 1 or not 0 < level < 1:
        raise ValueError(f"need resamples >= 1 and 0 < level < 1, got {resamples} and {level}")
    errors, lengths = np.asarray(units, dtype=np.int64).reshape(-1, 2).T
    n = len(errors)
    rng = np.random.default_rng(seed)
    rates = np.empty(resamples)
    chunk = max(1, _DRAWS_PER_CHUNK // n)
    for start in range(0, resamples, chunk):
        stop = min(start + chunk, resamples)
        idx = rng.integers(0, n, size=(stop - start, n))
        rates[start:stop] = 100.0 * errors[idx].sum(axis=1) / np.maximum(lengths[idx].sum(axis=1), 1)
    lo, hi = np.quantile(rates, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def bootstrap(per_utt: Mapping[str, Counts], utt2spk: Optional[Mapping[str, str]] = None,
              resamples: int = RESAMPLES, seed: int = SEED) -> Dict[str, object]:
    """``score.json``'s interval fields: {"ci95": [lo, hi], "bootstrap": {"unit", "units",
    "resamples", "seed"}} (``ci95`` rounded like the rates, to 0.01)."""
    unit, units = resampling_units(per_utt, utt2spk)
    lo, hi = rate_interval(units, resamples, seed)
    return {"ci95": [round(lo, 2), round(hi, 2)],
            "bootstrap": {"unit": unit, "units": len(units), "resamples": resamples, "seed": seed}}


def write_utt_errors(path, per_utt: Mapping[str, Counts], utt2spk: Optional[Mapping[str, str]] = None) -> Path:
    path = Path(path)
    lines = ["\t".join(UTT_ERRORS_HEADER)]
    lines += [f"{u}\t{(utt2spk or {}).get(u, NO_SPEAKER)}\t{e}\t{n}" for u, (e, n) in sorted(per_utt.items())]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def read_utt_errors(path) -> Dict[str, Tuple[str, int, int]]:
    """{utterance: (speaker, errors, reference tokens)} of a ``utt_errors.tsv``."""
    path = Path(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines or tuple(lines[0].split("\t")) != UTT_ERRORS_HEADER:
        raise ValueError(f"{path}:1: expected the header {' '.join(UTT_ERRORS_HEADER)!r}")
    out: Dict[str, Tuple[str, int, int]] = {}
    for n, line in enumerate(lines[1:], 2):
        fields = line.split("\t")
        if len(fields) != 4 or not (fields[2].isdigit() and fields[3].isdigit()) or fields[0] in out:
            raise ValueError(f"{path}:{n}: expected a new utterance id, a speaker and two counts, got {line!r}")
        out[fields[0]] = (fields[1], int(fields[2]), int(fields[3]))
    return out
