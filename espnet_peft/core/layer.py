"""The shared base of every adapter layer: a frozen ``nn.Linear`` plus a trainable delta.

An adapter layer *is* an ``nn.Linear`` (subclass) that keeps the wrapped layer's
``weight`` and ``bias`` Parameter objects under the same names, so the model's
state-dict keys do not change and ESPnet's ``--init_param`` (which loads *after*
adapters are created) still finds the pretrained weights.

Life cycle of a layer:

1. construction (``from_linear``): adapter tensors get their shapes and any
   value that does not depend on the pretrained weight (LoRA's Kaiming A, zero B);
2. ``init_from_base()``: values that depend on the pretrained weight (PiSSA factors,
   DoRA magnitude). Runs once per model in ``initialize_adapters`` -- on the first
   forward pass, i.e. after ESPnet has loaded ``--init_param``;
3. ``prepare()``: non-persistent caches rebuilt from the weights (SSVD bases), lazily
   before the first forward and again after every ``load_state_dict``.

``AdapterModule`` is the protocol every adapter follows, whatever it wraps: which
tensors are the adapter (``adapter_tensor_names``), the initialised flag, merge /
unmerge, and how its targets are found and built (``find_targets``, ``from_module``,
``attach``). ``AdapterLinear`` replaces a Linear; ``OutputAdapter`` (bottleneck
adapters) sits on a submodule and transforms its output.
"""

from __future__ import annotations

import functools
import math
from typing import ClassVar, List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from espnet_peft.core.config import AdapterConfig
from espnet_peft.core.errors import AdapterConfigError, AdapterMergeError, AdapterNotInitializedError
from espnet_peft.core.targets import match_target_modules, set_submodule
from espnet_peft.ops.fused import can_fuse, lowrank_linear


class AdapterModule(nn.Module):
    """What every adapter layer shares, independent of the module it adapts."""

    method: ClassVar[str] = ""
    # Names (relative to the layer) of the tensors that make up the adapter; they are
    # what ``adapter_state_dict`` saves and what becomes trainable.
    adapter_tensor_names: ClassVar[Tuple[str, ...]] = ()
    # False for adapters that add layers (bottleneck): merge raises AdapterMergeError.
    mergeable: ClassVar[bool] = True
    # True when the forward no longer uses the wrapped ``weight`` (semiorth's factors
    # replace it); the frozen weight stays only so that state-dict keys do not change.
    replaces_weight: ClassVar[bool] = False

    def _init_adapter_state(self) -> None:
        self.merged = False
        self._prepared = False
        # Persisted "initialised" flag. An integer so that ESPnet's checkpoint averaging
        # (which sums integer tensors instead of averaging them) keeps it non-zero.
        self.register_buffer("adapter_initialized", torch.zeros((), dtype=torch.int64))

    # ----- finding and building targets (one method's injection) ----------------
    @classmethod
    def find_targets(cls, model: nn.Module, config: AdapterConfig) -> List[str]:
        """Names of the modules of ``model`` this method adapts under ``config``."""
        raise NotImplementedError

    @classmethod
    def from_module(cls, module: nn.Module, config: AdapterConfig, shared: nn.ModuleDict,
                    name: str) -> "AdapterModule":
        raise NotImplementedError

    def attach(self, model: nn.Module, name: str) -> None:
        """Put this adapter into ``model`` for the target module ``name``."""
        raise NotImplementedError

    @classmethod
    def trained_in_place(cls, model: nn.Module, config: AdapterConfig) -> List[str]:
        """Names (prefixes) of *base* tensors this method trains directly instead of
        through a delta (full fine-tuning, BitFit's norm biases). Default: none."""
        return []

    # ----- initialisation -------------------------------------------------------
    @property
    def initialized(self) -> bool:
        return bool(self.adapter_initialized)

    @torch.no_grad()
    def init_from_base(self) -> None:
        """Fill values that depend on the pretrained weight. Default: nothing."""

    @torch.no_grad()
    def prepare(self) -> None:
        """Rebuild non-persistent caches from the current weights. Default: nothing."""

    def describe(self) -> str:
        return type(self).__name__

    def _ensure_prepared(self) -> None:
        if not self.initialized:
            raise AdapterNotInitializedError(
                f"{self.method} adapter on {self.describe()} "
                "is used before initialisation: call espnet_peft.initialize_adapters(model) "
                "after the pretrained weights are loaded (a forward pass of the root model "
                "does it automatically)."
            )
        self.prepare()
        self._prepared = True

    def _load_from_state_dict(self, *args, **kwargs):
        # New weights invalidate caches derived from them (SSVD bases).
        self._prepared = False
        super()._load_from_state_dict(*args, **kwargs)

    def regularization_loss(self) -> Optional[torch.Tensor]:
        return None

    @torch.no_grad()
    def proximal_step(self, step_size) -> None:
        """After an optimiser step: apply the proximal operator of a non-smooth penalty
        (``espnet_peft.core.proximal``); ``step_size(param)`` is the per-entry step the
        optimiser took for ``param`` (None if it holds or stepped no such parameter).
        Default: no such penalty."""

    # ----- learned rank distribution (methods whose catalog card has reports_ranks) ---
    def rank_values(self) -> Tuple[torch.Tensor, Optional[int]]:
        """Per-rank magnitudes and the rank the method keeps (None: decided model-wide
        from the magnitudes; ``espnet_peft.methods.rank_report``)."""
        raise NotImplementedError(f"{self.method} adapters do not learn a rank distribution")

    @classmethod
    def rank_records(cls, tensors, where: str) -> List[Tuple[str, Tuple[int, int], torch.Tensor, Optional[int]]]:
        """(name, (out, in), magnitudes, rank) per layer from an adapter file's tensors."""
        raise ValueError(f"{where}: a {cls.method} adapter file alone does not give its rank distribution")

    # ----- merge / unmerge -------------------------------------------------------
    @torch.no_grad()
    def merge(self) -> None:
        if self.merged:
            return
        if not self.mergeable:
            raise AdapterMergeError(
                f"{self.method} adapters add layers to the model ({self.describe()}) and cannot "
                "be merged into the base weights; keep the adapted model (decode with "
                "espnet_peft's *_inference entry points) instead of merging it")
        if not self._prepared:
            self._ensure_prepared()
        self._fold_into_weight()
        self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:
        if not self.merged:
            return
        self._unfold_from_weight()
        self.merged = False

    def _fold_into_weight(self) -> None:
        raise NotImplementedError

    def _unfold_from_weight(self) -> None:
        raise NotImplementedError

    def unloaded(self) -> nn.Module:
        """The plain module that replaces this adapter in ``merge_and_unload``."""
        raise NotImplementedError


class AdapterLinear(nn.Linear, AdapterModule):
    """Base class: ``y = base(x) + delta(x)``; subclasses define the delta."""

    def __init__(self, base: nn.Linear, config: AdapterConfig):
        nn.Module.__init__(self)
        self.in_features = base.in_features
        self.out_features = base.out_features
        self.weight = base.weight
        self.bias = base.bias
        self.config = config
        self._init_adapter_state()

    # ----- construction ---------------------------------------------------------
    @classmethod
    def from_linear(cls, base: nn.Linear, config: AdapterConfig, shared: nn.ModuleDict,
                    name: str) -> "AdapterLinear":
        """Build the adapter around ``base``. ``shared`` holds tensors that several
        layers share (S2-LoRA); most methods ignore it."""
        return cls(base, config)

    @classmethod
    def find_targets(cls, model: nn.Module, config: AdapterConfig) -> List[str]:
        return match_target_modules(model, config.target_modules, config.optional_target_modules)

    @classmethod
    def from_module(cls, module, config, shared, name):
        return cls.from_linear(module, config, shared, name)

    def attach(self, model: nn.Module, name: str) -> None:
        set_submodule(model, name, self)

    def unloaded(self) -> nn.Module:
        return self.to_linear()

    @property
    def max_rank(self) -> int:
        return min(self.in_features, self.out_features)

    def describe(self) -> str:
        return f"a {self.out_features}x{self.in_features} Linear"

    # ----- the delta -----------------------------------------------------------
    def delta_forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def delta_weight(self) -> torch.Tensor:
        """The dense ``out x in`` update this adapter adds to ``weight``."""
        raise NotImplementedError

    def lowrank_parts(self):
        """``(down, up, core, scale, row_scale)`` when the delta is a low-rank path that
        ``espnet_peft.ops.fused.lowrank_linear`` computes (see there), else None: the layer
        then runs ``base(x) + delta_forward(x)`` with autograd's default ops."""
        return None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self._prepared:
            self._ensure_prepared()
        if self.merged:
            return F.linear(x, self.weight, self.bias)
        if can_fuse(x, self.weight, self.bias):
            parts = self.lowrank_parts()
            if parts is not None:
                return lowrank_linear(x, self.weight, self.bias, *parts)
        return F.linear(x, self.weight, self.bias) + self.delta_forward(x)

    def _fold_into_weight(self) -> None:
        self.weight.data += self.delta_weight().to(self.weight.dtype)

    def _unfold_from_weight(self) -> None:
        self.weight.data -= self.delta_weight().to(self.weight.dtype)

    def to_linear(self) -> nn.Linear:
        """A plain ``nn.Linear`` holding the merged weight."""
        self.merge()
        plain = nn.Linear(self.in_features, self.out_features, bias=self.bias is not None,
                          device=self.weight.device, dtype=self.weight.dtype)
        plain.weight = nn.Parameter(self.weight.data.clone(), requires_grad=False)
        if self.bias is not None:
            plain.bias = nn.Parameter(self.bias.data.clone(), requires_grad=False)
        return plain

    def closed_form_num_params(self) -> int:
        """Trainable parameters this layer adds (shared tensors excluded)."""
        return sum(
            t.numel() for n, t in self.named_parameters(recurse=True)
            if n not in ("weight", "bias")
        )

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"method={self.method}, merged={self.merged}")


OUTPUT_ADAPTER_ATTR = "peft_output_adapter"
CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)


def _apply_output_adapter(adapter: "OutputAdapter", host: nn.Module, args, output):
    # Bound with functools.partial (a module-level function, not a closure), so the host
    # still deep-copies (the copy's hook gets the copied adapter) and pickles.
    return adapter.adapt_output(output)


class OutputAdapter(AdapterModule):
    """An adapter on the *output* of a submodule (its host): ``y = adapter(host(x))``.

    It is registered as child ``peft_output_adapter`` of the host (or, when the host is
    a container whose forward runs all its children, e.g. Whisper's ``mlp``
    ``nn.Sequential``, as ``<name>_peft_output_adapter`` of the host's parent) and applied
    by a forward hook on the host. The host and every base state-dict key stay unchanged
    (ESPnet's ``--init_param`` loads after adapters are created). Hosts that return a
    tuple (openai-whisper's attention: ``(out, qk)``; HF attention: ``(out, weights,
    ...)``) get their first element adapted, the rest passed through.
    """

    def __init__(self, config: AdapterConfig):
        super().__init__()
        self.config = config
        self._init_adapter_state()

    @classmethod
    def from_module(cls, module, config, shared, name):
        return cls(module, config)

    def attach(self, model: nn.Module, name: str) -> None:
        host = model.get_submodule(name)
        owner, attr = host, OUTPUT_ADAPTER_ATTR
        if isinstance(host, CONTAINERS):
            parent_name, _, child = name.rpartition(".")
            owner = model.get_submodule(parent_name) if parent_name else model
            attr = f"{child}_{OUTPUT_ADAPTER_ATTR}"
            if isinstance(owner, CONTAINERS) or owner is host:
                raise AdapterConfigError(
                    f"{name} is a {type(host).__name__} inside a {type(owner).__name__}: there is "
                    "no place for an output adapter that its forward would not run; target the "
                    "enclosing layer's sub-block instead")
        if attr in owner._modules:
            raise AdapterConfigError(f"{name} already carries an output adapter")
        owner.add_module(attr, self)
        host.register_forward_hook(functools.partial(_apply_output_adapter, self))

    def adapt(self, h: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def adapt_output(self, output):
        if not self._prepared:
            self._ensure_prepared()
        if torch.is_tensor(output):
            return self.adapt(output)
        if isinstance(output, tuple) and output and torch.is_tensor(output[0]):
            return (self.adapt(output[0]),) + tuple(output[1:])
        raise TypeError(
            f"{self.method} adapter: its host returned {type(output).__name__}; expected a "
            "tensor or a tuple whose first element is the hidden states")


def kaiming_uniform_(tensor: torch.Tensor) -> torch.Tensor:
    """The Kaiming-uniform init ``nn.Linear`` (and loralib/peft's lora_A) use."""
    return nn.init.kaiming_uniform_(tensor, a=math.sqrt(5))


def adapter_dropout(p: float) -> nn.Module:
    return nn.Dropout(p) if p > 0 else nn.Identity()


def dropout_inactive(dropout: nn.Module) -> bool:
    """True when ``adapter_dropout``'s module passes its input through unchanged."""
    return isinstance(dropout, nn.Identity) or not dropout.training
