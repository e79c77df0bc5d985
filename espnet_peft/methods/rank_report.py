"""The per-layer rank distribution of an adapter whose method learns one (the catalog's
``reports_ranks``: S2-LoRA, AdaLoRA), as the JSON the rank heatmaps read:

``{"method": <name>, "layers": [{"name": <module>, "shape": [out, in], "rank": <effective
rank>, "values": [per-rank magnitudes]}]}``, layers in model order (from an adapter file
alone, in natural name order). A layer reports its magnitudes and, where the method
decides it (AdaLoRA's mask), its rank (``AdapterModule.rank_values``); otherwise (S2-LoRA)
a value counts when it exceeds ``threshold`` times the largest magnitude of the whole
model, or ``threshold`` itself with ``absolute``. Model-wide, so a layer whose
coefficients all shrink counts as low-rank; 1e-2 rather than smaller because Adam moves
a coefficient that the L1 term pushes to 0 by up to about the learning rate per step
instead of letting it settle at 0.
"""

from __future__ import annotations

import re
from typing import Dict, List

import torch
import torch.nn as nn

from espnet_peft.core.adapter_tensors import adapter_layers
from espnet_peft.core.registry import get_method
from espnet_peft.core.state import peft_state
from espnet_peft.methods.catalog import rank_methods

DEFAULT_THRESHOLD = 1e-2


def _unsupported(method) -> ValueError:
    return ValueError(f"rank dumps exist for {' and '.join(rank_methods())} adapters; this one is {method!r}")


def natural_key(name: str):
    """Sort key that puts ``blocks.2`` before ``blocks.10``."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", name)]


def layer_entries(records, threshold: float = DEFAULT_THRESHOLD, absolute: bool = False) -> List[dict]:
    """records: (name, (out, in), magnitudes, rank or None) per layer."""
    values = [v.detach().abs().float().view(-1) for _, _, v, _ in records]
    peak = max((float(v.max()) for v in values if v.numel()), default=0.0)
    cut = threshold if absolute else threshold * peak
    return [{"name": name, "shape": [int(s) for s in shape],
             "rank": int(rank) if rank is not None else int((v > cut).sum()), "values": v.tolist()}
            for (name, shape, _, rank), v in zip(records, values)]


def rank_report(model: nn.Module, threshold: float = DEFAULT_THRESHOLD, absolute: bool = False) -> dict:
    """The rank report of a model whose adapters learn a rank distribution."""
    state = peft_state(model)
    method = state.method if state is not None else None
    if method not in rank_methods():
        raise _unsupported(method)
    records = [(n, (m.out_features, m.in_features), *m.rank_values()) for n, m in adapter_layers(model)]
    return {"method": method, "layers": layer_entries(records, threshold, absolute)}


def rank_report_from_tensors(method: str, tensors: Dict[str, torch.Tensor], where: str,
                             threshold: float = DEFAULT_THRESHOLD, absolute: bool = False) -> dict:
    """The rank report from an adapter file's tensors alone (``where`` names the file in
    errors), for methods whose tensors carry the layer shapes."""
    if method not in rank_methods():
        raise _unsupported(method)
    records = get_method(method).layer_cls.rank_records(tensors, where)
    records.sort(key=lambda record: natural_key(record[0]))
    return {"method": method, "layers": layer_entries(records, threshold, absolute)}
