"""Result tables in the papers' layout: one table per (base model, target domain), rows =
method and hyperparameters, columns = trainable parameters (M and % of the base),
target dev/test WER (learning), source-domain WER (forgetting) and the relative gap to
full fine-tuning. Runs without a number show their status (failed, unfinished, missing,
not decoded) in the WER cells and a note below the table naming the log to read.

Markdown (``RESULTS.md``, also training time and peak memory), CSV (``results.csv``,
one row per run and domain, every field) and LaTeX (``results.tex``: booktabs tables to
``\\input``; needs only ``\\usepackage{booktabs}``).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import List, Sequence, Tuple

from espnet_peft.results.labels import hp_text, latex_escape, method_name, params_m
from espnet_peft.results.schema import COLUMNS, REFERENCE_METHODS, Row


def groups(rows: Sequence[Row]) -> List[Tuple[str, str, List[Row]]]:
    """(model, domain, rows) in first-seen order."""
    keys = list(dict.fromkeys((r["model"], r["domain"]) for r in rows))
    return [(m, d, [r for r in rows if (r["model"], r["domain"]) == (m, d)]) for m, d in keys]


def has_dev(rows: Sequence[Row]) -> bool:
    return any(r["dev_wer"] is not None for r in rows)


def metric_name(rows: Sequence[Row]) -> str:
    """The error rate of a table: CER where the recipe scores by character (score --metric
    cer, e.g. Mandarin), else WER."""
    return "CER" if any(r.get("metric") == "cer" for r in rows) else "WER"


def wer_cell(value, fmt: str = "{:.1f}") -> str:
    if value is None:
        return "–"
    return fmt.format(value) if isinstance(value, (int, float)) else str(value)


def _num(value, fmt: str) -> str:
    return "–" if value is None else fmt.format(value)


def _gap(value) -> str:
    return "–" if value is None else f"{value:+.1f}"


def _base_size(rows: Sequence[Row]) -> str:
    base = next((r["base_params"] for r in rows if r["base_params"]), None)
    return f"{params_m(base)}M parameters" if base else "base size unknown (no finished run)"


def markdown(rows: Sequence[Row]) -> str:
    lines = ["# Results", "",
             "WER (%) on the target domain's dev/test sets (learning) and on the source domain's test",
             "set (forgetting); trainable parameters in millions and as % of the base model; gap = relative",
             "target test WER difference to the best full fine-tuning run, 100 (WER - WER_full) / WER_full;",
             "training wall-clock time and peak memory (GPU if used, else CPU RSS). A domain scored by",
             "character (Mandarin) reports CER instead; its column names say so.", ""]
    for model, domain, group in groups(rows):
        dev, unit = has_dev(group), metric_name(group)
        head = ["method", "hyperparameters", "trainable (M)", "trainable (%)"] + ([f"dev {unit}"] if dev else []) + \
               [f"test {unit}", f"source {unit}", "gap to full FT (%)", "train time (s)", "peak mem (MB)"]
        lines += [f"## {model}: {domain}", "", f"Base model {model} ({_base_size(group)}); target domain {domain}.", "",
                  "| " + " | ".join(head) + " |",
                  "|---|---|" + "---:|" * (len(head) - 2)]
        for r in group:
            cells = [r["method"], hp_text(r["hyperparameters"]) or "–",
                     params_m(r["trainable_params"]) or "–", _num(r["trainable_pct"], "{:.2f}")]
            cells += [wer_cell(r["dev_wer"])] if dev else []
            cells += [wer_cell(r["target_wer"]), wer_cell(r["source_wer"]), _gap(r["gap_to_full_pct"]),
                      _num(r["train_time_s"], "{:.0f}"), _num(r["peak_mem_mb"], "{:.0f}")]
            lines.append("| " + " | ".join(cells) + " |")
        notes = [f"- `{Path(r['exp_dir']).name}`: {r['note']}" for r in group if r["note"]]
        lines += [""] + (notes + [""] if notes else [])
    return "\n".join(lines)


def csv_text(rows: Sequence[Row]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        flat = dict(r, hyperparameters=hp_text(r["hyperparameters"], "ascii"))
        for key in ("dev_wer", "target_wer", "source_wer"):  # numbers only; the status says why not
            flat[key] = r[key] if isinstance(r[key], (int, float)) else ""
        writer.writerow({k: "" if flat.get(k) is None else flat[k] for k in COLUMNS})
    return out.getvalue()


def _latex_wer(value) -> str:
    if isinstance(value, (int, float)):
        return f"{value:.1f}"
    return "--" if value is None else r"\textit{" + latex_escape(value) + "}"


def latex_table(model: str, domain: str, rows: Sequence[Row]) -> str:
    dev, unit = has_dev(rows), metric_name(rows)
    wer_cols = ["Dev"] * dev + ["Test", "Source"]
    ncols = 4 + len(wer_cols) + 1
    first_wer = 5
    lines = [r"\begin{table}[t]", r"\centering",
             r"\caption{" + latex_escape(f"{model} ({_base_size(rows)}), target domain {domain}: "
                                         f"{unit} (%) on the target {'dev/test' if dev else 'test'} "
                                         "and the source test set; "
                                         f"trainable parameters; gap = relative target test {unit} "
                                         "difference to full fine-tuning.") + "}",
             r"\label{tab:" + _label(f"{model}-{domain}") + "}",
             r"\begin{tabular}{ll" + "r" * (ncols - 2) + "}", r"\toprule",
             r" & & \multicolumn{2}{c}{Trainable} & \multicolumn{" + str(len(wer_cols)) + r"}{c}{"
             + unit + r" (\%)} & \\",
             r"\cmidrule(lr){3-4}\cmidrule(lr){" + f"{first_wer}-{first_wer + len(wer_cols) - 1}" + "}",
             "Method & Hyperparameters & M & \\% & " + " & ".join(wer_cols) + r" & Gap (\%) \\",
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
        cells += [_latex_wer(r["dev_wer"])] * dev
        cells += [_latex_wer(r["target_wer"]), _latex_wer(r["source_wer"]),
                  "--" if r["gap_to_full_pct"] is None else f"${r['gap_to_full_pct']:+.1f}$"]
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

