"""Compose a training config from YAML layers and name the experiment after it.

    python -m espnet_peft.recipe config --out exp/x/train.yaml \
        exp/base/config.yaml conf/adapt.yaml conf/adapter/lora.yaml --set max_epoch=5
    python -m espnet_peft.recipe config_get exp/base/config.yaml token_type --default bpe

Later layers override earlier ones key by key (dicts merge recursively, lists and
scalars replace). Keys that describe one particular run (data paths, shape files,
output_dir, init_param, ...) are dropped, because ESPnet appends command-line values to
list options given in a config: the stage script passes them on the command line.
``--tag`` prints a short name made of the method and its key hyperparameters (the
catalog's run-name keys and labels, ``espnet_peft.methods.catalog``). ``config_get``
prints one value of a config file for the stage script.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Dict, Iterable, List, Union

import yaml

from espnet_peft.core.config import deep_merge
from espnet_peft.methods import catalog

RUN_SPECIFIC_KEYS = (
    "config", "output_dir", "init_param", "train_data_path_and_name_and_type",
    "valid_data_path_and_name_and_type", "train_shape_file", "valid_shape_file",
    "multiple_iterator", "collect_stats", "write_collected_feats", "print_config",
    "ngpu", "dist_backend", "dist_init_method", "dist_world_size", "dist_rank",
    "local_rank", "dist_master_addr", "dist_master_port", "dist_launcher", "multiprocessing_distributed",
    # written into config.yaml by ESPnet but not options of its parser
    "required", "version", "distributed",
)


def load_yaml(path) -> Dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config layer not found: {path}")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def parse_set(items: Iterable[str]) -> Dict[str, Any]:
    """``a.b=1`` -> {"a": {"b": 1}} (values parsed as YAML)."""
    out: Dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set expects key=value, got {item!r}")
        node = out
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = yaml.safe_load(value)
    return out


def compose(layers: List[Union[str, Dict[str, Any]]], sets: Iterable[str] = ()) -> Dict[str, Any]:
    """Merge the layers (YAML files, or mappings given directly) and the ``--set`` items."""
    conf: Dict[str, Any] = {}
    for layer in layers:
        conf = deep_merge(conf, layer if isinstance(layer, dict) else load_yaml(layer))
    conf = deep_merge(conf, parse_set(sets))
    for key in RUN_SPECIFIC_KEYS:
        conf.pop(key, None)
    return conf


def fmt(value: Any) -> str:
    """A value as part of a run name: ``0.003`` -> ``0p003``, ``-1`` -> ``m1``."""
    if isinstance(value, float):
        value = f"{value:g}"
    return str(value).replace("-", "m").replace(".", "p")


def tag_part(key: str, value: Any) -> str:
    """``init_r``, 4 -> ``rinit4``: the key's run-name label (the catalog's) and the value."""
    return f"{catalog.hyperparameter_labels(key)['tag']}{fmt(value)}"


def experiment_tag(conf: Dict[str, Any]) -> str:
    """e.g. ``lora_r8_alpha16_lr0p003`` or ``full_lr0p0005``: the method, the
    ``adapter_conf`` values of its run-name keys (``catalog.tag_keys``) and the learning rate."""
    if conf.get("use_adapter"):
        name = str(conf.get("adapter"))
        adapter_conf = conf.get("adapter_conf") or {}
        parts = [name] + [tag_part(k, adapter_conf[k]) for k in catalog.tag_keys(name) if k in adapter_conf]
    else:
        parts = [catalog.FULL]
    lr = (conf.get("optim_conf") or {}).get("lr")
    if lr is not None:
        parts.append(f"lr{fmt(lr)}")
    return "_".join(parts)


_MISSING = object()


def config_value(conf: Dict[str, Any], key: str, default: Any = _MISSING) -> Any:
    """``conf[a][b]`` for the dotted ``key`` ``a.b``; ``default`` when a part is missing
    (KeyError without one)."""
    node: Any = conf
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            if default is _MISSING:
                raise KeyError(key)
            return default
        node = node[part]
    return node


def shell_value(value: Any, default: str = "") -> str:
    """A config value on one line: ``default`` for null, an empty string or a list or
    mapping (no one-line form), YAML's ``true``/``false`` for booleans."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None or value == "" or isinstance(value, (list, dict)):
        return default
    return str(value)


def get_main(cmd=None):
    """Print one value of a YAML config (for the stage script)."""
    parser = argparse.ArgumentParser(
        description=get_main.__doc__ + " A missing, null or empty value, or a list or mapping, "
        "prints --default; a missing key without --default is an error.")
    parser.add_argument("config", help="YAML file, e.g. the base model's config.yaml")
    parser.add_argument("key", help="top-level key, or a.b for a nested one")
    parser.add_argument("--default", help="printed when the key has no one-line value (default: nothing)")
    args = parser.parse_args(cmd)
    try:
        value = config_value(load_yaml(args.config), args.key,
                             _MISSING if args.default is None else None)
    except (FileNotFoundError, ValueError) as e:
        raise SystemExit(f"config_get: {e}") from None
    except KeyError:
        raise SystemExit(f"config_get: {args.config} has no {args.key}") from None
    print(shell_value(value, args.default or ""))


def main(cmd=None):
    """Compose a training config from YAML layers; ``--tag``: its run name."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("layers", nargs="+", help="YAML files, later ones override")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--out", help="write the composed config here")
    parser.add_argument("--tag", action="store_true", help="print the experiment tag")
    args = parser.parse_args(cmd)
    conf = compose(args.layers, args.set)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(yaml.safe_dump(conf, sort_keys=False), encoding="utf-8")
    if args.tag:
        print(experiment_tag(conf))
    elif not args.out:
        yaml.safe_dump(conf, sys.stdout, sort_keys=False)


if __name__ == "__main__":
    main()
