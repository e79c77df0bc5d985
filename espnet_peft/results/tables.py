"""Result tables in the papers' layout: one table per (base model, target domain), rows =
method and hyperparameters, columns = trainable parameters (M and % of the base),
target dev/test WER (learning), source-domain dev/test WER (forgetting) and the relative
gap to full fine-tuning. Each WER is followed by its 95 % bootstrap interval,
``20.4 (18.1–22.9)``, where its score.json has one. Runs without a number show their
status (failed, unfinished, missing, not decoded) in the WER cells and a note below the
table naming the log to read. No cell is marked best. Each markdown table's notes name
the lowest target and source test WER and the runs whose intervals overlap it, i.e. the
differences that are not resolved; only a run whose interval is disjoint from every
other's is called resolved from all (``overlap_note``).

Markdown (``RESULTS.md``, also training time and peak memory), CSV (``results.csv``,
one row per run and domain, every field) and LaTeX (``results.tex``: booktabs tables to
``\\input``; needs only ``\\usepackage{booktabs}``).
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import List, Sequence, Tuple

from espnet_peft.results.bootstrap import MIN_SPEAKERS, RESAMPLES
from espnet_peft.results.labels import hp_text, latex_escape, method_name, params_m
from espnet_peft.results.schema import COLUMNS, REFERENCE_METHODS, WER_COLUMNS, Row, interval


def groups(rows: Sequence[Row]) -> List[Tuple[str, str, List[Row]]]:
    """(model, domain, rows) in first-seen order."""
    keys = list(dict.fromkeys((r["model"], r["domain"]) for r in rows))
    return [(m, d, [r for r in rows if (r["model"], r["domain"]) == (m, d)]) for m, d in keys]


def has_column(rows: Sequence[Row], column: str) -> bool:
    """Whether any row has a value (or a status) in an optional WER column (the dev sets)."""
    return any(r.get(column) is not None for r in rows)


def is_number(value) -> bool:
    """A finite error rate or count (not a status word, None or a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def metric_name(rows: Sequence[Row]) -> str:
    """The error rate of a table: CER where the recipe scores by character (score --metric
    cer, e.g. Mandarin), else WER."""
    return "CER" if any(r.get("metric") == "cer" for r in rows) else "WER"


def wer_cell(value, ci=None, fmt: str = "{:.1f}", dash: str = "–") -> str:
    """``20.4`` or, with an interval, ``20.4 (18.1–22.9)``; a status word as it is."""
    if value is None:
        return "–"
    if not is_number(value):
        return str(value)
    return fmt.format(value) + (f" ({fmt.format(ci[0])}{dash}{fmt.format(ci[1])})" if ci else "")


def _overlaps(a, b) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


def _run_label(r: Row) -> str:
    hp = hp_text(r["hyperparameters"])
    return f"{r['method']} ({hp})" if hp else str(r["method"])


def overlap_note(rows: Sequence[Row], column: str, what: str) -> str:
    """One line on which differences in ``column`` the intervals resolve: the run with
    the lowest point estimate, and the runs whose intervals overlap its interval (their
    difference from it is not resolved). '' with fewer than two numbers."""
    scored = [r for r in rows if is_number(r.get(column))]
    if len(scored) < 2:
        return ""
    best = min(scored, key=lambda r: r[column])  # a tie: the first in table order
    best_ci = interval(best, column)
    head = f"{what}: lowest point estimate {_run_label(best)}, {wer_cell(best[column], best_ci)}"
    if best_ci is None:
        return f"{head}; it has no interval, so no difference from it is resolved."
    others = [r for r in scored if r is not best]
    overlapping = [r for r in others if interval(r, column) and _overlaps(best_ci, interval(r, column))]
    unknown = [r for r in others if not interval(r, column)]
    if not overlapping and not unknown:
        return f"{head}; resolved from every other run (no interval overlaps its own)."
    parts = [f"intervals overlapping it (difference not resolved): "
             f"{', '.join(map(_run_label, overlapping)) or 'none'}"]
    if unknown:
        parts.append(f"no interval (not compared): {', '.join(map(_run_label, unknown))}")
    return f"{head}; " + "; ".join(parts) + "."


def _num(value, fmt: str) -> str:
    return "–" if value is None else fmt.format(value)


def _gap(value) -> str:
    return "–" if value is None else f"{value:+.1f}"


def _base_size(rows: Sequence[Row]) -> str:
    base = next((r["base_params"] for r in rows if r["base_params"]), None)
    return f"{params_m(base)}M parameters" if base else "base size unknown (no finished run)"


INTERVAL_RULE = [
    "In parentheses: the 95 % bootstrap confidence interval of each error rate (stage 8,",
    f"`espnet_peft.results.bootstrap`): {RESAMPLES} resamples with a fixed seed, each drawing the",
    f"set's speakers with replacement when its `utt2spk` names at least {MIN_SPEAKERS} of them (else its",
    "utterances) and recomputing total errors / total reference words. A number without one",
    "comes from a score.json written before scoring added intervals. No run is marked best",
    "unless its interval is disjoint from every other run's: each table's notes name the lowest",
    "target and source test error rates and the runs whose intervals overlap them, i.e. the",
    "differences that are not resolved. Disjoint 95 % intervals are a conservative test of a",
    "difference; overlapping ones do not show that two runs are equal.",
]
# column: (markdown heading, LaTeX heading, its set in a caption) of the error rates; {u}: WER or CER
_WER_HEADS = {"dev_wer": ("dev {u}", "Dev", "target dev"), "target_wer": ("test {u}", "Test", "target test"),
              "source_dev_wer": ("source dev {u}", "Src dev", "source dev"),
              "source_wer": ("source {u}", "Source", "source test")}


def _wer_columns(rows: Sequence[Row]) -> List[str]:
    """The error-rate columns a table shows: test ones always, dev ones when decoded."""
    return [c for c in WER_COLUMNS if c in ("target_wer", "source_wer") or has_column(rows, c)]


def markdown(rows: Sequence[Row]) -> str:
    lines = ["# Results", "",
             "WER (%) on the target domain's dev/test sets (learning) and on the source domain's dev",
             "(when decoded) and test sets (forgetting); trainable parameters in millions and as % of",
             "the base model; gap = relative target test WER difference to the best full fine-tuning",
             "run, 100 (WER - WER_full) / WER_full; training wall-clock time and peak memory (GPU if",
             "used, else CPU RSS). A domain scored by character (Mandarin) reports CER instead; its",
             "column names say so.", "", *INTERVAL_RULE, ""]
    for model, domain, group in groups(rows):
        wers, unit = _wer_columns(group), metric_name(group)
        head = ["method", "hyperparameters", "trainable (M)", "trainable (%)"] + \
               [_WER_HEADS[c][0].format(u=unit) for c in wers] + \
               ["gap to full FT (%)", "train time (s)", "peak mem (MB)"]
        lines += [f"## {model}: {domain}", "", f"Base model {model} ({_base_size(group)}); target domain {domain}.", "",
                  "| " + " | ".join(head) + " |",
                  "|---|---|" + "---:|" * (len(head) - 2)]
        for r in group:
            cells = [r["method"], hp_text(r["hyperparameters"]) or "–",
                     params_m(r["trainable_params"]) or "–", _num(r["trainable_pct"], "{:.2f}")]
            cells += [wer_cell(r[c], interval(r, c)) for c in wers]
            cells += [_gap(r["gap_to_full_pct"]), _num(r["train_time_s"], "{:.0f}"), _num(r["peak_mem_mb"], "{:.0f}")]
            lines.append("| " + " | ".join(cells) + " |")
        resolved = [overlap_note(group, c, f"Target test {unit}" if c == "target_wer" else f"Source test {unit}")
                    for c in ("target_wer", "source_wer")]
        notes = [f"- {n}" for n in resolved if n]
        notes += [f"- `{Path(r['exp_dir']).name}`: {r['note']}" for r in group if r["note"]]
        lines += [""] + (notes + [""] if notes else [])
    return "\n".join(lines)


def csv_text(rows: Sequence[Row]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        flat = dict(r, hyperparameters=hp_text(r["hyperparameters"], "ascii"))
        for key in WER_COLUMNS:  # numbers only; the status says why not
            flat[key] = r.get(key) if is_number(r.get(key)) else ""
            flat[f"{key}_lo"], flat[f"{key}_hi"] = interval(r, key) or ("", "")
        writer.writerow({k: "" if flat.get(k) is None else flat[k] for k in COLUMNS})
    return out.getvalue()


def _latex_wer(value, ci=None) -> str:
    if value is None:
        return "--"
    if is_number(value):
        return wer_cell(value, ci, dash="--")
    return r"\textit{" + latex_escape(value) + "}"


def latex_table(model: str, domain: str, rows: Sequence[Row]) -> str:
    wers, unit = _wer_columns(rows), metric_name(rows)
    wer_heads = [_WER_HEADS[c][1] for c in wers]
    ncols = 4 + len(wers) + 1
    first_wer = 5
    sets = [_WER_HEADS[c][2] for c in wers]
    with_ci = any(interval(r, c) for r in rows for c in wers)
    lines = [r"\begin{table}[t]", r"\centering",
             r"\caption{" + latex_escape(f"{model} ({_base_size(rows)}), target domain {domain}: "
                                         f"{unit} (%) on the {', '.join(sets)} sets"
                                         + (" (in parentheses: 95 % bootstrap interval)" if with_ci else "")
                                         + "; trainable parameters; gap = relative target test "
                                         f"{unit} difference to full fine-tuning.") + "}",
             r"\label{tab:" + _label(f"{model}-{domain}") + "}",
             r"\begin{tabular}{ll" + "r" * (ncols - 2) + "}", r"\toprule",
             r" & & \multicolumn{2}{c}{Trainable} & \multicolumn{" + str(len(wers)) + r"}{c}{"
             + unit + r" (\%)} & \\",
             r"\cmidrule(lr){3-4}\cmidrule(lr){" + f"{first_wer}-{first_wer + len(wers) - 1}" + "}",
             "Method & Hyperparameters & M & \\% & " + " & ".join(wer_heads) + r" & Gap (\%) \\",
             r"\midrule"]
    previous_reference = None
    for r in rows:
        is_reference = r["method"] in REFERENCE_METHODS
        if previous_reference and not is_reference:
            lines.append(r"\midrule")
        previous_reference = is_reference
        cells = [latex_escape(method_name(r["method"])), hp_text(r["hyperparameters"], "latex") or "--",
                 params_m(r["trainable_params"]) or "--",
                 "--" if r["trainable_pct"] is None else f"{r['trainable_pct']:.2f}"]
        cells += [_latex_wer(r[c], interval(r, c)) for c in wers]
        cells += ["--" if r["gap_to_full_pct"] is None else f"${r['gap_to_full_pct']:+.1f}$"]
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    notes = [latex_escape(f"{Path(r['exp_dir']).name}: {r['note']}") for r in rows if r["note"]]
    if notes:
        lines += [r"\par\smallskip{\footnotesize", r"\\".join(notes) + "}"]
    lines.append(r"\end{table}")
    return "\n".join(lines)


def _label(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-." else "-" for c in text)


def latex(rows: Sequence[Row]) -> str:
    header = ["% Generated by espnet_peft.bin.collect_results; needs \\usepackage{booktabs}.", ""]
    return "\n".join(header + [latex_table(m, d, g) + "\n" for m, d, g in groups(rows)])

