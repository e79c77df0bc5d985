"""Module names: which modules a pattern selects, and replacing a module by name.

A pattern is a module-name suffix (``"linear_q"`` matches
``encoder.encoders.0.self_attn.linear_q``) or a regular expression matched against the
whole name (``r"encoder\\.encoders\\.[45]\\..*"``).
"""

from __future__ import annotations

import logging
import re
from typing import Collection, Dict, Iterator, List, Sequence

import torch.nn as nn

from espnet_peft.core.errors import AdapterConfigError


def pattern_matches(pattern: str, name: str) -> bool:
    if name == pattern or name.endswith("." + pattern):
        return True
    try:
        return re.fullmatch(pattern, name) is not None
    except re.error:
        return False


def under_prefix(name: str, prefixes: Collection[str]) -> bool:
    """Whether the dotted ``name`` is one of ``prefixes`` or lies below one (a lookup of
    ``name`` and each enclosing path: linear in the depth with a set of prefixes)."""
    end = len(name)
    while end > 0:
        if name[:end] in prefixes:
            return True
        end = name.rfind(".", 0, end)
    return False


def select_modules(model: nn.Module, patterns: Sequence[str], who: str) -> List[str]:
    """Names of the modules (any type) that ``patterns`` select, in pattern order, each
    once; a pattern that selects nothing is an error naming ``who`` (the method)."""
    names = [n for n, _ in model.named_modules() if n]
    selected: Dict[str, None] = {}
    for pattern in patterns:
        hits = [n for n in names if pattern_matches(pattern, n)]
        if not hits:
            raise AdapterConfigError(
                f"{who}: target_modules pattern {pattern!r} matches no module of {type(model).__name__}")
        selected.update(dict.fromkeys(hits))
    return list(selected)


def is_plain_linear(module: nn.Module) -> bool:
    # Subclasses that override forward (loralib's Linear, quantised layers, our adapter
    # layers) would be silently changed by wrapping; only accept layers that compute F.linear.
    if not isinstance(module, nn.Linear):
        return False
    return type(module).forward is nn.Linear.forward or type(module).__name__ == "Linear"


def match_target_modules(model: nn.Module, patterns: Sequence[str],
                         optional: Sequence[str] = ()) -> List[str]:
    """Names of the Linear modules that ``patterns`` select; errors on a pattern that
    selects nothing or selects a layer type no method supports. ``optional`` patterns
    may select nothing (they are logged then)."""
    named = [(n, m) for n, m in model.named_modules() if n]
    selected: Dict[str, None] = {}
    for pattern in [*patterns, *optional]:
        hits = [(n, m) for n, m in named if pattern_matches(pattern, n)]
        if not hits and pattern in optional:
            logging.info("optional target pattern %r: no such module in %s; skipped",
                         pattern, type(model).__name__)
            continue
        if not hits:
            linears = [n for n, m in named if isinstance(m, nn.Linear)]
            raise AdapterConfigError(
                f"target_modules pattern {pattern!r} matches no module of "
                f"{type(model).__name__}; Linear layers look like: {linears[:6]}"
            )
        ok = [n for n, m in hits if is_plain_linear(m)]
        bad = [(n, type(m).__name__) for n, m in hits if not is_plain_linear(m)]
        if not ok:
            raise AdapterConfigError(
                f"target_modules pattern {pattern!r} matches only layers the adapters cannot "
                f"wrap (torch.nn.Linear is supported): {bad[:6]}"
            )
        if bad:
            logging.info("pattern %r: skipping non-Linear modules %s", pattern, bad[:6])
        selected.update(dict.fromkeys(ok))
    return list(selected)


def set_submodule(model: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, module)


def batchnorm_stat_names(model: nn.Module) -> Iterator[str]:
    """State-dict names of every BatchNorm running statistic (they move in training even
    when no base parameter does: Conformer convolution modules)."""
    for name, module in model.named_modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            prefix = f"{name}." if name else ""
            for buf in ("running_mean", "running_var", "num_batches_tracked"):
                if getattr(module, buf, None) is not None:
                    yield prefix + buf
