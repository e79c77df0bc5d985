"""The S2T (OWSM / OWLS) path of the stage script: which ESPnet task a base model
belongs to, and the extra text files ESPnet's ``S2TTask`` reads.

    python -m espnet_peft.recipe s2t check --config owsm/config.yaml --task s2t --lang eng
    python -m espnet_peft.recipe s2t texts --lang eng --data_dir dump/raw/child_train ...

An S2T model decodes from a prompt ``<sos> <lang> <task> <notimestamps>`` and is trained
on three texts per utterance (ESPnet's ``S2TPreprocessor``):

- ``text`` -- the decoder target with its prefix, ``<eng><asr><notimestamps> the cat``;
  the recipe keeps the plain transcript in ``text`` (the scoring reference and what the
  tokenizer check reads) and writes the prefixed one to ``text.s2t``;
- ``text_prev`` -- the previous utterance's text as a prompt; our utterances are
  independent, so ``<na>`` (not available), in ``text.prev``;
- ``text_ctc`` -- the CTC target, the plain transcript, in ``text.ctc``.

Hypotheses of ESPnet's ``s2t_inference`` start with the prompt's symbols (and may hold
timestamps); the scorer reads its ``text_nospecial`` output, which has none of them.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Dict, List, Optional

import yaml

from espnet_peft.data.kaldi_dir import read_table
from espnet_peft.core.atomic import write_if_changed

TASK_SYMBOL = "<asr>"
S2T_FILES = {"text": "text.s2t", "text_prev": "text.prev", "text_ctc": "text.ctc"}


def symbol(name: str) -> str:
    """``eng`` or ``<eng>`` -> ``<eng>`` (ESPnet's s2t_inference accepts both, too)."""
    return f"<{name.strip().lstrip('<').rstrip('>')}>"


def config_task(conf: Dict) -> str:
    """``s2t`` for an ESPnet S2T training config (OWSM, OWLS), else ``asr``. S2T configs
    name the S2T preprocessor or carry its special symbols; ASR configs have neither."""
    pre_conf = conf.get("preprocessor_conf") or {}
    model_conf = conf.get("model_conf") or {}
    if conf.get("preprocessor") == "s2t" or "notime_symbol" in pre_conf or "sym_na" in model_conf:
        return "s2t"
    return "asr"


def token_list_of(conf: Dict, config_file: Path) -> Optional[List[str]]:
    tokens = conf.get("token_list")
    if isinstance(tokens, list):
        return tokens
    if isinstance(tokens, str) and Path(tokens).is_file():
        return Path(tokens).read_text(encoding="utf-8").split()
    return None


def check_base(config_file, task: str, lang: str = "eng") -> None:
    """Stop with a clear message when ``--task`` does not fit the base model's config
    (or the language symbol is not one of its tokens)."""
    path = Path(config_file)
    conf = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    found = config_task(conf)
    if found != task:
        hint = ("it has no S2T preprocessor (preprocessor: s2t / preprocessor_conf.notime_symbol): "
                "an ASR model runs with --task asr" if task == "s2t" else
                "it is an ESPnet S2T (OWSM-style) model: run it with --task s2t")
        raise SystemExit(f"--task {task}: {path} is not an ESPnet {task.upper()} training config; {hint}")
    if task == "s2t":
        tokens = token_list_of(conf, path)
        if tokens is not None:
            missing = [s for s in (symbol(lang), TASK_SYMBOL) if s not in tokens]
            if missing:
                raise SystemExit(f"{path}: the token list has no {' '.join(missing)}; "
                                 "pick a language the model knows with --s2t_lang (e.g. eng, nld)")


def _write_if_changed(path: Path, lines: List[str]) -> None:
    write_if_changed(path, "".join(line + "\n" for line in lines))


def write_s2t_texts(data_dir, lang: str = "eng", na: str = "<na>") -> None:
    """``text.s2t``, ``text.prev`` and ``text.ctc`` of ``data_dir`` from its ``text``.
    Files whose content would not change are left alone (re-runs touch nothing)."""
    data_dir = Path(data_dir)
    texts = read_table(data_dir / "text")
    prefix = f"{symbol(lang)}{TASK_SYMBOL}<notimestamps>"
    _write_if_changed(data_dir / S2T_FILES["text"], [f"{u} {prefix} {t.strip()}" for u, t in texts.items()])
    _write_if_changed(data_dir / S2T_FILES["text_prev"], [f"{u} {na}" for u in texts])
    _write_if_changed(data_dir / S2T_FILES["text_ctc"], [f"{u} {t.strip()}" for u, t in texts.items()])


def main(cmd=None):
    """Check that --task fits the base model; write the S2T texts (text.s2t, text.prev, text.ctc)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="does --task fit the base model's config?")
    check.add_argument("--config", required=True)
    check.add_argument("--task", required=True, choices=["asr", "s2t"])
    check.add_argument("--lang", default="eng")
    texts = sub.add_parser("texts", help="write text.s2t, text.prev, text.ctc")
    texts.add_argument("--lang", default="eng")
    texts.add_argument("--data_dir", action="append", required=True)
    args = parser.parse_args(cmd)
    if args.command == "check":
        check_base(args.config, args.task, args.lang)
    else:
        for d in args.data_dir:
            write_s2t_texts(d, args.lang)


if __name__ == "__main__":
    main()
