"""The per-layer rank distribution of an adapter whose method learns one (the catalog's
``reports_ranks``: S2-LoRA, AdaLoRA), as the JSON the rank heatmaps read:

``{"method": <name>, "layers": [{"name": <module>, "shape": [out, in], "rank": <effective
rank>, "values": [per-rank magnitudes]}]}``, layers in model order (from an adapter file
alone, in natural name order). Each layer reports its magnitudes and its rank
(``AdapterModule.rank_values``): the triplets AdaLoRA's mask keeps, the non-zero
coefficients of S2-LoRA (its proximal L1 step sets pruned ones exactly to 0).
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

def _unsupported(method) -> ValueError:
    return ValueError(f"rank dumps exist for {' and '.join(rank_methods())} adapters; this one is {method!r}")


def natural_key(name: str):
    """Sort key that puts ``blocks.2`` before ``blocks.10``."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", name)]


def layer_entries(records) -> List[dict]:
    """records: (name, (out, in), magnitudes, rank) per layer."""
    return [{"name": name, "shape": [int(s) for s in shape], "rank": int(rank),
             "values": v.detach().abs().float().view(-1).tolist()}
            for name, shape, v, rank in records]


def rank_report(model: nn.Module) -> dict:
    """The rank report of a model whose adapters learn a rank distribution."""
    state = peft_state(model)
    method = state.method if state is not None else None
    if method not in rank_methods():
        raise _unsupported(method)
    records = [(n, (m.out_features, m.in_features), *m.rank_values()) for n, m in adapter_layers(model)]
    return {"method": method, "layers": layer_entries(records)}


def rank_report_from_tensors(method: str, tensors: Dict[str, torch.Tensor], where: str) -> dict:
    """The rank report from an adapter file's tensors alone (``where`` names the file in
    errors), for methods whose tensors carry the layer shapes."""
    if method not in rank_methods():
        raise _unsupported(method)
    records = get_method(method).layer_cls.rank_records(tensors, where)
    records.sort(key=lambda record: natural_key(record[0]))
    return {"method": method, "layers": layer_entries(records)}
