"""A fingerprint of the base model, so that an adapter is never applied to another base.

A SHA-256 of the names and shapes of all base tensors (the architecture, exactly) and,
per tensor, the float64 sum and sum of squares (the values, to a tolerance that absorbs
rounding of every element to bfloat16/float16 -- e.g. a base loaded for
``--train_dtype bfloat16`` -- or CPU/GPU differences, but not a rescaled, different or
re-trained checkpoint). Base tensors are all tensors but the adapter's own, the
BatchNorm running statistics (they change during adapter training) and the adapters'
"initialised" flags.
"""

from __future__ import annotations

import hashlib
from typing import Iterator, Tuple

import torch
import torch.nn as nn

from espnet_peft.core.adapter_tensors import adapter_layers, adapter_prefixes
from espnet_peft.core.errors import AdapterFileError, BaseModelMismatchError
from espnet_peft.core.state import peft_state
from espnet_peft.core.targets import batchnorm_stat_names, under_prefix

# Per-element relative rounding the value fingerprint tolerates: bfloat16's unit
# roundoff. |sum error| <= eps * sum|x| <= eps * sqrt(n * sumsq) and
# |sumsq error| <= (2 eps + eps^2) * sumsq bound what rounding alone can do.
FINGERPRINT_EPS = 2.0 ** -8

Fingerprint = Tuple[str, torch.Tensor]


def base_tensors(model: nn.Module) -> Iterator[Tuple[str, torch.Tensor]]:
    prefixes = adapter_prefixes(model)
    skip = set(batchnorm_stat_names(model))
    for name, tensor in model.state_dict().items():
        if name in skip or name.endswith("adapter_initialized") or under_prefix(name, prefixes):
            continue
        yield name, tensor


def compute_fingerprint(model: nn.Module) -> Fingerprint:
    """(structure hash, per-tensor [sum, sum of squares, count] float64 table) of the
    model's base tensors as they are now."""
    h = hashlib.sha256()
    rows = []
    for name, tensor in sorted(base_tensors(model)):
        h.update(f"{name}:{tuple(tensor.shape)};".encode())
        # float32 sums (cascade summation: relative error ~1e-7, far inside the bf16-sized
        # tolerance of check_fingerprint) -- 15 times faster than float64 copies of a 102M model.
        t = tensor.detach().float() if tensor.is_floating_point() else tensor.detach().double()
        rows.append(torch.stack([t.sum().double(), t.square().sum().double(),
                                 torch.tensor(float(t.numel()), dtype=torch.float64, device=t.device)]).cpu())
    table = torch.stack(rows) if rows else torch.zeros(0, 3, dtype=torch.float64)
    return h.hexdigest(), table


def base_fingerprint(model: nn.Module) -> Fingerprint:
    """The fingerprint of the base the adapters were initialised from (recorded then),
    else of the base tensors now."""
    state = peft_state(model)
    if state is not None and state.base_fingerprint is not None:
        return state.base_fingerprint
    if any(getattr(m, "_weight_is_residual", False) for _, m in adapter_layers(model)):
        raise AdapterFileError(
            "the base weights of this model were modified by PiSSA and its fingerprint was "
            "not recorded; load the base checkpoint, inject, then load the adapter")
    return compute_fingerprint(model)


def check_fingerprint(expected: Fingerprint, actual: Fingerprint, what: str) -> None:
    (e_hash, e_tab), (a_hash, a_tab) = expected, actual
    if e_hash != a_hash:
        raise BaseModelMismatchError(
            f"{what} was trained on a base model with a different architecture (tensor names "
            "or shapes differ). Load it onto the base model it was trained from.")
    sums, sq, n = a_tab[:, 0], a_tab[:, 1], a_tab[:, 2]
    eps = FINGERPRINT_EPS
    tol_sq = (2 * eps + eps * eps) * sq + 1e-12
    tol_sum = eps * (n * sq).sqrt() + 1e-12
    bad = ((e_tab[:, 1] - sq).abs() > tol_sq) | ((e_tab[:, 0] - sums).abs() > tol_sum)
    if bool(bad.any()):
        raise BaseModelMismatchError(
            f"{what} was trained on different base weights ({int(bad.sum())} of {len(bad)} "
            "base tensors differ). Load the base checkpoint the adapter was trained from "
            "(the recipe's --init_param / base_model_file) before the adapter.")
