"""Bottleneck adapters (Houlsby et al., 2019; seed 002: only the top few encoder layers).

After a sub-block (attention and/or feed-forward) of each selected layer:
``h <- h + up(act(down(h)))`` with down (d -> b) Kaiming-uniform and up (b -> d) zero,
so the model is unchanged at start. The adapter sits on the sub-block's output before
the layer's residual sum (``OutputAdapter``); it adds layers, so it cannot be merged
into the base weights (``merge`` raises ``AdapterMergeError``): decode adapted models
with espnet_peft's ``*_inference`` entry points.

Which sub-blocks: by default the top ``top_k_layers`` layers of each stack in
``stacks`` (module-name prefixes: ``encoder``, ``decoder``). A stack's layers are the
children of the ``nn.ModuleList``/``nn.Sequential`` under that prefix whose children
have the requested sub-blocks (ESPnet's ``encoder.encoders``, openai-whisper's
``encoder.encoders.blocks``, HF wav2vec2's ``encoder.layers``). ``sub_blocks`` names
them by role or literally:

- ``attention``: ``self_attn`` (ESPnet Transformer/Conformer and decoders), ``attn``
  (E-Branchformer, Whisper), ``attention`` (HF wav2vec2/HuBERT);
- ``feed_forward``: ``feed_forward`` (ESPnet, HF), ``mlp`` (Whisper);
- ``macaron``: ``feed_forward_macaron`` (Conformer/E-Branchformer macaron style);
- any other child name literally (``src_attn``, ``cgmlp``, ``cross_attn``).

A non-empty ``target_modules`` instead names the host modules directly (suffixes or
regular expressions, any module type). The hidden size d is the output size of the
last Linear inside the host (the output projection of every block above).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import List, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from espnet_peft.core.config import AdapterConfig
from espnet_peft.core.errors import AdapterConfigError
from espnet_peft.core.layer import OutputAdapter, kaiming_uniform_
from espnet_peft.core.registry import register_method
from espnet_peft.core.targets import select_modules

# The catalog entry (espnet_peft.methods.catalog): how tables, plots and run names show bottleneck.
CARD = {"name": "bottleneck", "display": "bottleneck adapter", "order": 110, "color": "#aec7e8", "marker": "h",
        "group": "baseline", "hyperparameters": {"top_k_layers": {"tag": "top", "ascii": "top", "unicode": "top layers", "latex": "top layers"},
                        "bottleneck_dim": {"tag": "dim", "ascii": "dim"}}}

SUB_BLOCK_ROLES = {
    "attention": ("self_attn", "attn", "attention"),
    "feed_forward": ("feed_forward", "mlp"),
    "macaron": ("feed_forward_macaron",),
}
ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu, "tanh": torch.tanh, "silu": F.silu}


@dataclass
class BottleneckConfig(AdapterConfig):
    target_modules: List[str] = field(default_factory=list)
    stacks: List[str] = field(default_factory=lambda: ["encoder"])
    top_k_layers: int = 2
    sub_blocks: List[str] = field(default_factory=lambda: ["attention", "feed_forward"])
    bottleneck_dim: int = 64
    activation: str = "relu"

    def validate(self) -> None:
        for key in ("target_modules", "stacks", "sub_blocks"):
            if isinstance(getattr(self, key), str):
                setattr(self, key, [getattr(self, key)])
        if not self.target_modules and not (self.stacks and self.sub_blocks):
            raise AdapterConfigError("bottleneck: give stacks and sub_blocks, or target_modules")
        self.check_integer("top_k_layers", "bottleneck_dim")
        if self.activation not in ACTIVATIONS:
            raise AdapterConfigError(
                f"bottleneck: activation {self.activation!r} unknown; one of {sorted(ACTIVATIONS)}")


def _sub_block(layer: nn.Module, wanted: str):
    """The child of ``layer`` that plays role ``wanted`` (or is named so), or None."""
    for child in SUB_BLOCK_ROLES.get(wanted, (wanted,)):
        if isinstance(layer._modules.get(child), nn.Module):
            return child
    return None


def _layer_stack(model: nn.Module, stack: str, sub_blocks: List[str]) -> Tuple[str, List[str]]:
    """(name, layer names) of the layer container under ``stack``."""
    found = []
    for name, module in model.named_modules():
        if not (name == stack or name.startswith(stack + ".") or stack == ""):
            continue
        if not isinstance(module, (nn.ModuleList, nn.Sequential)) or len(module) == 0:
            continue
        if all(any(_sub_block(layer, s) for s in sub_blocks) for layer in module):
            found.append((name, [f"{name}.{i}" if name else str(i) for i in range(len(module))]))
    if not found:
        raise AdapterConfigError(
            f"bottleneck: no layer stack under {stack!r} whose layers have any of the "
            f"sub-blocks {sub_blocks} (roles: {SUB_BLOCK_ROLES}); check stacks/sub_blocks "
            "or name the host modules in target_modules")
    longest = max(len(layers) for _, layers in found)
    found = [f for f in found if len(f[1]) == longest]
    if len(found) > 1:
        raise AdapterConfigError(
            f"bottleneck: several layer stacks under {stack!r} fit: {[n for n, _ in found]}; "
            "make stacks more specific")
    return found[0]


def _module_order(model: nn.Module):
    order = {n: i for i, (n, _) in enumerate(model.named_modules())}
    return lambda name: order[name]


def _output_size(host: nn.Module, name: str) -> int:
    linears = [m for m in host.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise AdapterConfigError(
            f"bottleneck: cannot tell the output size of {name} ({type(host).__name__}): it "
            "contains no Linear layer")
    return linears[-1].out_features


@register_method(CARD["name"], BottleneckConfig)
class BottleneckAdapter(OutputAdapter):
    method = "bottleneck"
    adapter_tensor_names = ("down", "down_bias", "up", "up_bias")
    mergeable = False

    def __init__(self, host: nn.Module, config: BottleneckConfig, dim: int):
        super().__init__(config)
        ref = next(host.parameters())
        dev, dt = ref.device, ref.dtype
        b = config.bottleneck_dim
        self.dim = dim
        self.down = nn.Parameter(kaiming_uniform_(torch.empty(b, dim, device=dev, dtype=dt)))
        # nn.Linear's bias init for the down projection; the up projection starts at 0.
        bound = 1 / math.sqrt(dim)
        self.down_bias = nn.Parameter(torch.empty(b, device=dev, dtype=dt).uniform_(-bound, bound))
        self.up = nn.Parameter(torch.zeros(dim, b, device=dev, dtype=dt))
        self.up_bias = nn.Parameter(torch.zeros(dim, device=dev, dtype=dt))
        self.activation = config.activation

    @classmethod
    def from_module(cls, module, config, shared, name):
        return cls(module, config, _output_size(module, name))

    @classmethod
    def find_targets(cls, model: nn.Module, config: BottleneckConfig) -> List[str]:
        if config.target_modules:
            return select_modules(model, config.target_modules, "bottleneck")
        hosts = []
        for stack in config.stacks:
            name, layers = _layer_stack(model, stack, config.sub_blocks)
            if config.top_k_layers > len(layers):
                raise AdapterConfigError(
                    f"bottleneck: top_k_layers={config.top_k_layers} but {name} has only "
                    f"{len(layers)} layers")
            for role in config.sub_blocks:
                found = [f"{layer_name}.{child}" for layer_name in layers[-config.top_k_layers:]
                         if (child := _sub_block(model.get_submodule(layer_name), role))]
                if not found:
                    raise AdapterConfigError(
                        f"bottleneck: sub_block {role!r} is in none of the top "
                        f"{config.top_k_layers} layers of {name}")
                hosts += found
        return sorted(hosts, key=_module_order(model))

    def adapt(self, h: torch.Tensor) -> torch.Tensor:
        z = ACTIVATIONS[self.activation](F.linear(h, self.down, self.down_bias))
        return h + F.linear(z, self.up, self.up_bias)

    def describe(self) -> str:
        return f"a sub-block output of size {self.dim}"

    def extra_repr(self) -> str:
        return f"dim={self.dim}, bottleneck_dim={self.down.shape[0]}, activation={self.activation}"
