"""VeRA, vector-based random matrix adaptation (Kopiczko et al., ICLR 2024).

One pair of *frozen random* matrices A (r x in_max) and B (out_max x r) is shared by
every adapted layer of the model; a layer of shape out x in uses the slices
A[:, :in] and B[:out, :]. Each layer trains only two scaling vectors:
``delta W = diag(lambda_b) B diag(lambda_d) A`` with lambda_d (r, init ``d_initial``)
and lambda_b (out, init 0, so the model is unchanged at start).

A and B are never saved: they are regenerated from ``projection_seed`` (part of the
saved config) whenever the adapter is built -- at injection, when ESPnet's
``create_adapter`` runs at decoding time, and in ``load_adapter`` -- so an adapter file
holds only the vectors (r + out numbers per layer). They are drawn exactly as HF peft
0.21 draws them (``VeraModel._init_vera_A_vera_B`` with ``save_projection=False``):
a CPU ``torch.Generator`` seeded with the seed, A then B, each Kaiming-uniform
(gain sqrt(2), fan-in = its number of columns), sized to the largest in/out dimension
among the targeted layers; ``tests/unit/test_vera.py`` checks the two agree bit for bit.
The shared pair lives once in the root model under ``peft_shared.vera`` as
non-persistent buffers (they follow ``.to(device)`` but stay out of state dicts).
What *is* saved is ``projection_probe``, a handful of their entries: before its first
forward after a load, each layer checks that the regenerated A/B still agree with the
probe, so a random-number stream that changed (another torch version or generator) is
an error instead of an adapter silently applied to other projections.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn

from espnet_peft.core.config import AdapterConfig
from espnet_peft.core.errors import AdapterFileError
from espnet_peft.core.layer import AdapterLinear, adapter_dropout
from espnet_peft.core.registry import register_method

# The catalog entry (espnet_peft.methods.catalog): how tables, plots and run names show vera.
CARD = {"name": "vera", "display": "VeRA", "order": 100, "color": "#bcbd22", "marker": "<",
        "group": "baseline", "hyperparameters": {"r": {"latex": "$r$"}}}

SHARED_KEY = "vera"
PROBE_SIZE = 8  # entries of A's first row and of B's first column that are saved


@dataclass
class VeRAConfig(AdapterConfig):
    r: int = 256
    d_initial: float = 0.1
    projection_seed: int = 0
    dropout: float = 0.0

    def validate(self) -> None:
        super().validate()
        self.check_integer("r")
        self.check_integer("projection_seed", minimum=0)
        self.check_interval("dropout", 0, 1, "[)")


def seeded_kaiming_uniform(shape, generator: torch.Generator) -> torch.Tensor:
    """Kaiming-uniform (gain sqrt(2), fan-in = ``shape[1]``) drawn from ``generator``."""
    std = math.sqrt(2.0) / math.sqrt(shape[1])
    bound = math.sqrt(3.0) * std
    return torch.empty(shape).uniform_(-bound, bound, generator=generator)


class VeRAProjections(nn.Module):
    """The shared frozen A (r x in_max) and B (out_max x r), regenerated from the seed
    whenever a layer with a larger dimension joins (so the final sizes, and values, do
    not depend on the order in which layers are wrapped)."""

    def __init__(self, r: int, seed: int):
        super().__init__()
        self.r, self.seed = r, seed
        self.max_in = self.max_out = 0
        self.register_buffer("vera_A", torch.empty(r, 0), persistent=False)
        self.register_buffer("vera_B", torch.empty(0, r), persistent=False)
        self.register_buffer("projection_probe", torch.zeros(2 * PROBE_SIZE))

    def include(self, in_features: int, out_features: int, device, dtype) -> None:
        if in_features <= self.max_in and out_features <= self.max_out:
            return
        self.max_in, self.max_out = max(self.max_in, in_features), max(self.max_out, out_features)
        generator = torch.Generator(device="cpu").manual_seed(self.seed)
        a = seeded_kaiming_uniform((self.r, self.max_in), generator)
        b = seeded_kaiming_uniform((self.max_out, self.r), generator)
        self.vera_A = a.to(device=device, dtype=dtype)
        self.vera_B = b.to(device=device, dtype=dtype)
        self.projection_probe = self._probe().to(device=device, dtype=dtype)

    def _probe(self) -> torch.Tensor:
        return torch.cat([self.vera_A[0, :PROBE_SIZE], self.vera_B[:PROBE_SIZE, 0]]).float()

    def verify(self) -> None:
        """Refuse projections that differ from those the loaded adapter was trained with."""
        saved, now = self.projection_probe.float(), self._probe()
        # 1e-2 of the init bound absorbs bfloat16 storage; another stream differs by O(bound).
        bound = float(now.abs().max()) if now.numel() else 0.0
        if saved.shape != now.shape or (saved - now.to(saved.device)).abs().max() > 1e-2 * bound:
            raise AdapterFileError(
                f"VeRA: the projections regenerated from projection_seed={self.seed} differ from "
                "those this adapter was trained with (its saved projection_probe); the random "
                "number stream of this torch build differs from the training one, so the "
                "adapter cannot be applied")

    def extra_repr(self) -> str:
        return f"r={self.r}, seed={self.seed}, A={self.max_in} wide, B={self.max_out} tall"


@register_method(CARD["name"], VeRAConfig)
class VeRALinear(AdapterLinear):
    method = "vera"
    adapter_tensor_names = ("vera_lambda_d", "vera_lambda_b")

    def __init__(self, base: nn.Linear, config: VeRAConfig, shared: VeRAProjections):
        super().__init__(base, config)
        # A plain attribute, not a submodule: the projections are owned once, by the
        # root model's ``peft_shared``.
        object.__setattr__(self, "projections", shared)
        dev, dt = base.weight.device, base.weight.dtype
        self.vera_lambda_d = nn.Parameter(
            torch.full((config.r,), float(config.d_initial), device=dev, dtype=dt))
        self.vera_lambda_b = nn.Parameter(torch.zeros(self.out_features, device=dev, dtype=dt))
        self.vera_dropout = adapter_dropout(config.dropout)

    @classmethod
    def from_linear(cls, base, config: VeRAConfig, shared: nn.ModuleDict, name: str):
        if SHARED_KEY not in shared:
            shared[SHARED_KEY] = VeRAProjections(config.r, config.projection_seed)
        projections = shared[SHARED_KEY]
        projections.include(base.in_features, base.out_features, base.weight.device, base.weight.dtype)
        return cls(base, config, projections)

    @torch.no_grad()
    def prepare(self) -> None:
        self.projections.verify()

    def _factors(self):
        p = self.projections
        return p.vera_A[:, : self.in_features], p.vera_B[: self.out_features, :]

    def delta_forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = self._factors()
        h = (self.vera_dropout(x) @ a.t()) * self.vera_lambda_d
        return (h @ b.t()) * self.vera_lambda_b

    def delta_weight(self) -> torch.Tensor:
        a, b = self._factors()
        return (self.vera_lambda_b[:, None] * b) @ (self.vera_lambda_d[:, None] * a)
