"""Scan a recipe's experiment directory into result rows (stage 9's input).

Each experiment directory that the stage script made holds ``run.json``
({"role": "zero_shot"|"adapt", "domain" or "domains", "method", "tag", "test_sets":
{<domain>: <set>, "source": <set>}}), the composed ``train.yaml`` (ESPnet's own
``config.yaml`` once training started), ``train.log``, our ``peft_summary.json`` when
training finished, and ``decode_<set>/score.json`` from scoring.

``collect`` returns one row per (target domain, run): trainable parameters, target dev
and test WER (learning), source-domain dev and test WER (forgetting), each with its 95 %
bootstrap interval where score.json has one (``ci95``), relative gap to full
fine-tuning, training time and peak memory, and a status. A dev set is ``<domain>_dev``
for the test set ``<domain>_test``, read only when decoded. Runs that failed, did not
finish, were never decoded, or are missing altogether stay in the rows with that status;
they are never dropped. A run counts as missing when ``<exp>/jobs/plan.txt`` (written
by stage 9: ``domain method exp_dir config`` lines) lists it but its directory has no
``run.json``, or when a configuration was run for one target domain but not another.

Tables and plots: ``python -m espnet_peft.bin.collect_results``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import yaml

from espnet_peft.methods import catalog
from espnet_peft.results.schema import (FAILED, MISSING, NOT_DECODED, NOT_SCORED, NOT_TRAINED, OK,
                                        UNFINISHED, WER_COLUMNS, ci_key, run_dir_name, tag_of)

_ERROR_LINE = re.compile(r"^\s*([A-Za-z_][\w.]*(Error|Exception|Interrupt)\b.*|.*\bERROR\b.*)$")


def read_json(path: Path) -> Optional[dict]:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from e


def hyperparameters(conf: Optional[dict]) -> Dict[str, object]:
    """The key hyperparameters of a training config: the adapter_conf keys that name a run
    of its method (the catalog's ``tag_keys``) and the learning rate, in that order."""
    if not conf:
        return {}
    out: Dict[str, object] = {}
    if conf.get("use_adapter"):
        adapter_conf = conf.get("adapter_conf") or {}
        out.update((k, adapter_conf[k]) for k in catalog.tag_keys(conf.get("adapter")) if k in adapter_conf)
        if out.get("k") is not None:  # an explicit k overrides k_fraction
            out.pop("k_fraction", None)
    lr = (conf.get("optim_conf") or {}).get("lr")
    if lr is not None:
        out["lr"] = lr
    return out


def _train_config(exp: Path) -> Optional[dict]:
    for name in ("config.yaml", "train.yaml"):  # ESPnet's full config once training started
        if (exp / name).is_file():
            with (exp / name).open(encoding="utf-8") as f:
                return yaml.safe_load(f)
    return None


def failure_line(log: Path) -> Optional[str]:
    """The last error line of a training log, or None when it shows no error."""
    if not log.is_file():
        return None
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    if not any("Traceback (most recent call last)" in line or _ERROR_LINE.match(line) for line in lines):
        return None
    errors = [line.strip() for line in lines if _ERROR_LINE.match(line)]
    last = errors[-1] if errors else "Traceback"
    return last if len(last) <= 160 else last[:157] + "..."


def run_status(exp: Path, role: str) -> Tuple[str, str]:
    """(status, note) of one experiment directory's training."""
    log = exp / "train.log"
    if role == "adapt" and (exp / "peft_summary.json").is_file():
        return OK, ""
    # A zero-shot run decodes the base: trained here (its train.log) or given (no log).
    if role == "zero_shot" and ((exp / "valid.acc.ave.pth").is_file() or not log.is_file()
                                or list(exp.glob("decode_*/score.json"))):
        return OK, ""
    error = failure_line(log)
    if error:
        return FAILED, f"failed: see {log} ({error})"
    if log.is_file():
        return UNFINISHED, f"unfinished: {log} ends without an error (still running, or killed)"
    return NOT_TRAINED, f"not trained: no {log}"


def _score(exp: Path, test_set: Optional[str], status: str) -> Tuple[object, Optional[Tuple[float, float]], str]:
    """(error rate, its 95 % interval, metric) of one decoding: the rate is a float (WER,
    or CER where scoring chose it), the reason there is none (str), or None without a
    set; the interval is None when there is no rate or its score.json predates intervals."""
    if not test_set:
        return None, None, "wer"
    path = exp / f"decode_{test_set}" / "score.json"
    score = read_json(path)
    if score is None:
        if status != OK:
            return status, None, "wer"
        return (NOT_SCORED if path.parent.is_dir() else NOT_DECODED), None, "wer"
    metric = score.get("metric", "wer")  # cer for a recipe scored by character (score --metric)
    if metric not in score:
        raise ValueError(f"{path}: no {metric!r} field")
    ci = score.get("ci95")
    if ci is not None:
        if not (isinstance(ci, list) and len(ci) == 2 and all(isinstance(v, (int, float)) for v in ci)
                and ci[0] <= ci[1]):
            raise ValueError(f"{path}: 'ci95' must be [lo, hi] with lo <= hi, got {ci!r}")
        ci = (ci[0], ci[1])
    return score[metric], ci, metric


def _dev_set(test_set: Optional[str]) -> Optional[str]:
    return test_set[: -len("_test")] + "_dev" if test_set and test_set.endswith("_test") else None


def scan_run(exp: Path, run: dict, model: str) -> List[Dict[str, object]]:
    role = run.get("role")
    if role not in ("adapt", "zero_shot") or "method" not in run or "test_sets" not in run:
        raise ValueError(f"{exp / 'run.json'}: expected role adapt|zero_shot, method and test_sets; got {run}")
    status, note = run_status(exp, role)
    summary = (read_json(exp / "peft_summary.json") or {}) if role == "adapt" else {}
    hp = hyperparameters(_train_config(exp)) if role == "adapt" else {}
    tests = run["test_sets"]
    # dev sets are decoded only on request: a dev column stays empty unless its directory exists
    source_dev = _dev_set(tests.get("source"))
    source_dev = source_dev if source_dev and (exp / f"decode_{source_dev}").is_dir() else None
    rows = []
    for domain in run.get("domains") or [run.get("domain")]:
        trainable = 0 if role == "zero_shot" else summary.get("trainable_params")
        dev = _dev_set(tests.get(domain))
        sets = {"dev_wer": dev if dev and (exp / f"decode_{dev}").is_dir() else None,
                "target_wer": tests.get(domain), "source_dev_wer": source_dev, "source_wer": tests.get("source")}
        scores = {column: _score(exp, test_set, status) for column, test_set in sets.items()}
        row = {
            "model": model, "domain": domain, "method": run["method"], "tag": run.get("tag", ""),
            "hyperparameters": hp, "status": status, "note": note,
            "trainable_params": trainable, "base_params": summary.get("base_params"),
            "metric": scores["target_wer"][2],
            "train_time_s": summary.get("train_wall_s"),
            "peak_mem_mb": summary.get("peak_cuda_mb") or summary.get("peak_cpu_rss_mb"),
            "exp_dir": str(exp),
        }
        for column in WER_COLUMNS:
            row[column], row[ci_key(column)], _ = scores[column]
        rows.append(row)
    return rows


def _missing_row(model, domain, method, tag, exp_dir, hp, why) -> Dict[str, object]:
    return {"model": model, "domain": domain, "method": method, "tag": tag, "hyperparameters": hp,
            "status": MISSING, "note": f"missing: {why}", "trainable_params": None, "base_params": None,
            **{c: None for c in WER_COLUMNS}, **{ci_key(c): None for c in WER_COLUMNS},
            "target_wer": MISSING, "source_wer": MISSING, "train_time_s": None,
            "peak_mem_mb": None, "exp_dir": str(exp_dir)}


def _planned_missing(exp_dir: Path, model: str, present: set) -> List[Dict[str, object]]:
    plan = exp_dir / "jobs" / "plan.txt"
    rows = []
    if not plan.is_file():
        return rows
    for n, line in enumerate(plan.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 4:
            raise ValueError(f"{plan}:{n}: expected 'domain method exp_dir config', got {line!r}")
        domain, method, run_dir, conf_path = fields
        run_dir = Path(run_dir)
        if run_dir.name in present:
            continue
        conf = None
        if Path(conf_path).is_file():
            with open(conf_path, encoding="utf-8") as f:
                conf = yaml.safe_load(f)
        tag = tag_of(run_dir, domain)
        rows.append(_missing_row(model, domain, method, tag, exp_dir / run_dir.name, hyperparameters(conf),
                                 f"planned in {plan} but {exp_dir / run_dir.name} has no run.json"))
    return rows


def _grid_missing(rows: List[Dict[str, object]], exp_dir: Path, model: str) -> List[Dict[str, object]]:
    """A configuration run on one target domain but not on another is missing there."""
    domains = list(dict.fromkeys(r["domain"] for r in rows))
    have = {(r["domain"], r["method"], r["tag"]) for r in rows}
    configs = {(r["method"], r["tag"]): r for r in rows if r["method"] != catalog.ZERO_SHOT}
    out = []
    for (method, tag), example in configs.items():
        for domain in domains:
            if (domain, method, tag) not in have:
                out.append(_missing_row(model, domain, method, tag, exp_dir / run_dir_name(domain, tag),
                                        example["hyperparameters"],
                                        f"{method} {tag} was run on {example['domain']} but not on {domain}"))
    return out


def model_label(exp_dir: Path) -> str:
    """The base model's directory name (``base_adult_bpe_unigram150``), else the exp dir's."""
    bases = sorted(p.parent.name for p in exp_dir.glob("*/run.json")
                   if (read_json(p) or {}).get("role") == "zero_shot")
    return bases[0] if len(bases) == 1 else exp_dir.name


def _sort_key(row, domains: List[str]):
    method, domain = row["method"], str(row["domain"])
    values = tuple((0, float(v), "") if isinstance(v, (int, float)) else (1, 0.0, str(v))
                   for v in row["hyperparameters"].values())
    return (domains.index(domain) if domain in domains else len(domains), domain,
            *catalog.order_key(method), values, row["tag"])


def add_gap_to_full(rows: List[Dict[str, object]]) -> None:
    """``gap_to_full_pct``: 100 (WER - WER_full) / WER_full on the target test set, against
    the best full fine-tuning run of the same model and domain."""
    for row in rows:
        fulls = [r["target_wer"] for r in rows if r["method"] == catalog.FULL and r["model"] == row["model"]
                 and r["domain"] == row["domain"] and isinstance(r["target_wer"], (int, float))]
        wer = row["target_wer"]
        row["gap_to_full_pct"] = (round(100 * (wer - min(fulls)) / min(fulls), 3)
                                  if fulls and min(fulls) > 0 and isinstance(wer, (int, float)) else None)


def collect(exp_dir, model: Optional[str] = None) -> List[Dict[str, object]]:
    """Every row of one experiment directory (one base model), sorted by domain, method
    and hyperparameters."""
    exp_dir = Path(exp_dir)
    if not exp_dir.is_dir():
        raise FileNotFoundError(f"experiment directory {exp_dir} does not exist")
    model = model or model_label(exp_dir)
    rows = []
    for path in sorted(exp_dir.glob("*/run.json")):
        rows += scan_run(path.parent, read_json(path), model)
    present = {Path(r["exp_dir"]).name for r in rows}
    rows += _planned_missing(exp_dir, model, present)
    rows += _grid_missing(rows, exp_dir, model)
    base_params = next((r["base_params"] for r in rows if r["base_params"]), None)
    for row in rows:
        row["base_params"] = row["base_params"] or base_params
        t = row["trainable_params"]
        row["trainable_pct"] = round(100 * t / base_params, 3) if t is not None and base_params else None
    add_gap_to_full(rows)
    # Target domains in the recipe's order (the zero-shot run lists them), others after.
    domains = [str(d) for r in rows if r["method"] == catalog.ZERO_SHOT for d in [r["domain"]]]
    return sorted(rows, key=lambda r: _sort_key(r, domains))

