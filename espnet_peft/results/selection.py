"""Choose each method's configuration (one run of a hyperparameter sweep) on the dev
sets, never on the test sets: for each base model and method, the configuration with the
lowest

    score = mean over the target domains of (target dev WER + source dev WER) / 2

(equal weight to learning and forgetting). ``RULE``, the header of ``SELECTION.md``,
states the rule in full: which domains are averaged, eligibility, ties. The rows of
``espnet_peft.results.scan.collect`` are reduced to ``DEV_FIELDS`` before anything else
is read, so no test-set error rate can enter the choice.
``python -m espnet_peft.bin.select_configs`` is the command line.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from espnet_peft.methods import catalog
from espnet_peft.results.labels import hp_text
from espnet_peft.results.schema import Row, ci_key, interval
from espnet_peft.results.tables import is_number, metric_name, wer_cell

# All that the choice may read of a row: who the run is, and its two dev error rates.
DEV_COLUMNS = ("dev_wer", "source_dev_wer")
DEV_FIELDS = ("model", "domain", "method", "tag", "hyperparameters", "status", "trainable_params", "metric",
              "exp_dir", *DEV_COLUMNS, *map(ci_key, DEV_COLUMNS))
TIE_DECIMALS = 6  # scores are means of WERs given to 0.01: equal to 6 decimals is a tie
RULE = [
    "Each method's configuration is chosen on the dev sets only; no test-set error rate is read.",
    "score = mean over the target domains of (target dev WER + source dev WER) / 2: equal weight to",
    "learning (the target domain's dev set) and forgetting (the source domain's dev set, decoded by",
    "the run adapted to that domain). The domains averaged are those on which at least one",
    "configuration of the method has both dev error rates; a configuration lacking one of them there",
    "is listed but not eligible. The lowest score is chosen; a tie (equal to 6 decimals) goes to fewer",
    "trainable parameters, then to the alphabetically first run tag. The dev intervals (95 %",
    "bootstrap, in parentheses) show how close the configurations are: the choice is not a claim",
    "that the chosen one is better than the others.",
]


def dev_view(row: Row) -> Row:
    """A row reduced to what the choice may read (``DEV_FIELDS``)."""
    return {k: row.get(k) for k in DEV_FIELDS}


@dataclass
class Config:
    """One configuration of one method on one base model, over its target domains."""
    model: str
    method: str
    tag: str
    hyperparameters: Dict[str, object]
    trainable_params: Optional[int] = None
    rows: Dict[str, Row] = field(default_factory=dict)  # domain -> its dev view
    score: Optional[float] = None
    not_eligible: str = ""
    chosen: bool = False

    @property
    def run(self) -> str:
        """The run tag, or the experiment directory's name for a run without one (zero-shot)."""
        return self.tag or Path(str(next(iter(self.rows.values()))["exp_dir"])).name


def _both_dev(row: Optional[Row]) -> bool:
    return row is not None and is_number(row["dev_wer"]) and is_number(row["source_dev_wer"])


def _lacking(row: Optional[Row], domain: str) -> str:
    if row is None:
        return f"not run on {domain}"
    names = [name for key, name in (("dev_wer", "target dev"), ("source_dev_wer", "source dev"))
             if not is_number(row[key])]
    state = row["status"] if row["status"] != "ok" else "not decoded"
    return f"no {' or '.join(names)} error rate on {domain} ({state})"


def select(rows: Sequence[Row]) -> List[Config]:
    """Every configuration, in the rows' order, with its score, or why it is not
    eligible, and the chosen one of each (model, method) marked."""
    configs: Dict[Tuple[str, str, str], Config] = {}
    for row in map(dev_view, rows):
        key = (str(row["model"]), str(row["method"]), str(row["tag"]))
        config = configs.setdefault(key, Config(*key, dict(row["hyperparameters"] or {})))
        config.trainable_params = config.trainable_params if config.trainable_params is not None \
            else row["trainable_params"]
        config.rows[str(row["domain"])] = row
    by_method: Dict[Tuple[str, str], List[Config]] = {}
    for config in configs.values():
        by_method.setdefault((config.model, config.method), []).append(config)
    for (_, method), group in by_method.items():
        domains = list(dict.fromkeys(d for c in group for d, r in c.rows.items() if _both_dev(r)))
        for c in group:
            lacking = [_lacking(c.rows.get(d), d) for d in domains if not _both_dev(c.rows.get(d))]
            if not domains:
                c.not_eligible = f"no configuration of {method} has both dev error rates on any target domain"
            elif lacking:
                c.not_eligible = "; ".join(lacking)
            else:
                c.score = sum((c.rows[d]["dev_wer"] + c.rows[d]["source_dev_wer"]) / 2 for d in domains) / len(domains)
        eligible = [c for c in group if c.score is not None]
        if eligible:
            best = min(eligible, key=lambda c: (round(c.score, TIE_DECIMALS), _params_key(c), c.tag))
            best.chosen = True
    return list(configs.values())


def _params_key(config: Config) -> float:
    return config.trainable_params if is_number(config.trainable_params) else math.inf


def chosen(configs: Sequence[Config]) -> Dict[str, object]:
    """selection.json: {"rule": ..., "chosen": {model: {method: {"tag", "hyperparameters",
    "score", "dev": {domain: {"target_dev", "source_dev"}}, "exp_dirs": {domain: dir}}}},
    "no_choice": {model: {method: {tag: why not eligible}}}}."""
    out: Dict[str, object] = {"rule": " ".join(RULE), "chosen": {}, "no_choice": {}}
    for c in configs:
        if c.chosen:
            domains = [d for d, r in c.rows.items() if _both_dev(r)]
            out["chosen"].setdefault(c.model, {})[c.method] = {
                "tag": c.run, "hyperparameters": c.hyperparameters, "score": round(c.score, 4),
                "dev": {d: {"target_dev": c.rows[d]["dev_wer"], "source_dev": c.rows[d]["source_dev_wer"]}
                        for d in domains},
                "exp_dirs": {d: c.rows[d]["exp_dir"] for d in domains}}
    for c in configs:
        if c.method not in out["chosen"].get(c.model, {}):
            out["no_choice"].setdefault(c.model, {}).setdefault(c.method, {})[c.run] = c.not_eligible
    return out


def _cell(row: Optional[Row], key: str) -> str:
    return wer_cell(row[key], interval(row, key)) if row is not None else "–"


def markdown(configs: Sequence[Config]) -> str:
    lines = ["# Configurations chosen on the dev sets", "", *RULE, ""]
    for model in dict.fromkeys(c.model for c in configs):
        group = [c for c in configs if c.model == model]
        rows = [r for c in group for r in c.rows.values()]
        unit = metric_name(rows)
        domains = list(dict.fromkeys(d for c in group for d in c.rows))
        head = ["method", "hyperparameters", "run"]
        for d in domains:
            head += [f"{d} dev {unit}", f"source dev {unit} ({d} run)"]
        head += ["score", "chosen"]
        lines += [f"## {model}", "", "| " + " | ".join(head) + " |",
                  "|---|---|---|" + "---:|" * (len(head) - 4) + ":---:|"]
        for c in sorted(group, key=lambda c: catalog.order_key(c.method)):  # stable: sweep order kept
            cells = [c.method, hp_text(c.hyperparameters) or "–", f"`{c.run}`"]
            for d in domains:
                cells += [_cell(c.rows.get(d), "dev_wer"), _cell(c.rows.get(d), "source_dev_wer")]
            cells += ["–" if c.score is None else f"{c.score:.2f}", "✓" if c.chosen else ""]
            lines.append("| " + " | ".join(cells) + " |")
        notes = [f"- {c.method} `{c.run}`: not eligible: {c.not_eligible}" for c in group if c.not_eligible]
        lines += [""] + (notes + [""] if notes else [])
    return "\n".join(lines)


def json_text(configs: Sequence[Config]) -> str:
    return json.dumps(chosen(configs), indent=1, ensure_ascii=False) + "\n"
