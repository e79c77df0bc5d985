"""Write the ``run.json`` of experiment directories: what the result tables read
(``espnet_peft.results.scan``).

    python -m espnet_peft.recipe run_json --source_domain adult \
        --zero_shot exp/base_adult_bpe_unigram150 --domains "child accented"
    python -m espnet_peft.recipe run_json --source_domain adult \
        --adapt child lora exp/adapt_child_lora_r8_alpha16_lr0p003 [--adapt ...]

The zero-shot reference (the base model unchanged) is one directory for every target
domain: ``{"role": "zero_shot", "method": "zero_shot", "domains": [...], "test_sets":
{<domain>: "<domain>_test", ..., "source": "<source>_test"}}``. An adaptation run is
``{"role": "adapt", "domain", "method", "tag", "test_sets": {<domain>: "<domain>_test",
"source": "<source>_test"}}``; its tag is the directory name after ``adapt_<domain>_``
(``espnet_peft.results.schema``). A file that would not change is left alone.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Dict, List

from espnet_peft.methods import catalog
from espnet_peft.core.atomic import write_if_changed
from espnet_peft.results.schema import tag_of

RUN_FILE = "run.json"


def test_set_names(domains: List[str], source_domain: str) -> Dict[str, str]:
    return {**{d: f"{d}_test" for d in domains}, "source": f"{source_domain}_test"}


def zero_shot_run(domains: List[str], source_domain: str) -> Dict[str, object]:
    return {"role": "zero_shot", "method": catalog.ZERO_SHOT, "domains": list(domains),
            "test_sets": test_set_names(domains, source_domain)}


def adapt_run(domain: str, method: str, run_dir, source_domain: str) -> Dict[str, object]:
    return {"role": "adapt", "domain": domain, "method": method, "tag": tag_of(run_dir, domain),
            "test_sets": test_set_names([domain], source_domain)}


def write(run_dir, run: Dict[str, object]) -> Path:
    path = Path(run_dir) / RUN_FILE
    write_if_changed(path, json.dumps(run) + "\n")
    return path


def main(cmd=None):
    """Write the run.json (what the result tables read) of experiment directories."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source_domain", required=True)
    parser.add_argument("--zero_shot", metavar="RUN_DIR", help="the base model's directory")
    parser.add_argument("--domains", help="--zero_shot: the target domains, space-separated")
    parser.add_argument("--adapt", nargs=3, action="append", default=[], metavar=("DOMAIN", "METHOD", "RUN_DIR"),
                        help="an adaptation run; repeat for several")
    args = parser.parse_args(cmd)
    if not args.zero_shot and not args.adapt:
        parser.error("give --zero_shot and/or --adapt")
    if args.zero_shot:
        if args.domains is None:
            parser.error("--zero_shot needs --domains")
        write(args.zero_shot, zero_shot_run(args.domains.split(), args.source_domain))
    for domain, method, run_dir in args.adapt:
        write(run_dir, adapt_run(domain, method, run_dir, args.source_domain))


if __name__ == "__main__":
    main()
