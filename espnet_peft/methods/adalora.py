"""AdaLoRA, adaptive budget allocation for LoRA (Zhang et al., ICLR 2023).

Each adapted layer holds an SVD-shaped update ``delta W = s * P diag(Lambda) Q`` with
P = ``lora_B`` (out x init_r), Lambda = ``lora_E`` (init_r x 1), Q = ``lora_A``
(init_r x in), s = alpha / init_r; Lambda starts at 0 and P, Q at N(0, 0.02^2), as in
HF peft. Tensor names and shapes are peft's, so state dicts map one-to-one.

Rank allocation (one ``RankAllocator`` per model, under ``peft_shared.adalora``):

- importance of every entry w of P, Lambda, Q: sensitivity I = |w * dL/dw|, smoothed
  I_bar <- beta1 I_bar + (1 - beta1) I, uncertainty U_bar <- beta2 U_bar +
  (1 - beta2) |I - I_bar|, score I_bar * U_bar; the score of triplet i of a layer is
  score(Lambda_i) + mean_j score(P_ji) + mean_j score(Q_ij);
- budget (total number of kept triplets over all layers) at optimizer step t:
  init_r * L for t <= tinit, then a cubic decrease
  ``target + (init - target) * (1 - (t - tinit) / (total_step - tfinal - tinit))^3`` down
  to target_r * L at t = total_step - tfinal, fixed afterwards;
- every ``deltaT`` steps of the decreasing phase, and once at t = total_step - tfinal,
  the triplets with the globally lowest scores are masked: their Lambda_i is set to 0
  and ``adalora_mask`` records the allocation; after that the final mask is re-applied
  after every step.

The orthogonality regulariser is added to the training loss through
``regularization_loss`` (ESPnet: by the plugin's loss hook; plain PyTorch: add
``espnet_peft.adapter_regularization(model)``): ``orth_reg_weight`` times the *mean*
over all P and Q matrices of ``||P^T P - I||_F`` and ``||Q Q^T - I||_F``. The paper
writes the sum of squared norms; we follow the authors' code and peft (mean of
unsquared norms), so ``orth_reg_weight`` means what it means there.

**When the allocation runs.** peft asks the user to call
``model.update_and_allocate(global_step)`` after ``optimizer.step()`` and before
``zero_grad()``. ESPnet's trainer cannot be told to do that, so the allocator registers
a global ``torch.optim`` step post-hook (``register_optimizer_step_post_hook``): after
*any* optimizer's ``step()`` that holds this model's AdaLoRA parameters, it increments
the persistent step counter ``peft_shared.adalora.global_step`` (t = 1 after the first
step) and runs peft's ``update_and_allocate(t)``: importance from the updated weights
and the gradients still in ``.grad``, then budget and mask. ESPnet's order per step is
forward, backward (``accum_grad`` times), grad clipping, ``optimizer.step()`` -> our
allocation -> ``scheduler.step()``, ``zero_grad()``, so this is exactly peft's
ordering; with DDP the gradients seen are the all-reduced ones (every rank computes
the same mask), with AMP they are unscaled, and steps ESPnet skips (non-finite
gradients) are not counted. Intended differences from peft 0.21: the step counter is
counted by us (peft takes the caller's), and it, the importance averages
(``adalora_importance``, peft keeps them outside the model) and the mask are buffers,
so adapter-only checkpoints and ``--resume`` continue the schedule where it stopped
(adapter files are hence about three times LoRA's size for the same rank); the layer
scaling is alpha / init_r where peft divides by (init_r + 1e-5).

``total_step`` must be given: the number of optimizer steps of the run (epochs x
batches per epoch / accum_grad). If training stops earlier the budget never reaches
``target_r``; if it runs longer, the final allocation stays fixed.
"""

from __future__ import annotations

import logging
import weakref
from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn as nn
from torch.optim.optimizer import register_optimizer_step_post_hook

from espnet_peft.core.config import AdapterConfig
from espnet_peft.core.errors import AdapterConfigError
from espnet_peft.core.layer import AdapterLinear, adapter_dropout
from espnet_peft.core.registry import register_method

# The catalog entry (espnet_peft.methods.catalog): how tables, plots and run names show adalora.
CARD = {"name": "adalora", "display": "AdaLoRA", "order": 90, "color": "#e377c2", "marker": "X",
        "group": "baseline", "hyperparameters": {"alpha": {"unicode": "α", "latex": r"$\alpha$"}, "init_r": {"tag": "rinit", "ascii": "r_init", "latex": r"$r_\mathrm{init}$"},
                        "target_r": {"tag": "rtarget", "ascii": "r_target", "latex": r"$r_\mathrm{target}$"}},
    "reports_ranks": True}

SHARED_KEY = "adalora"
FACTORS = ("lora_A", "lora_E", "lora_B")


@dataclass
class AdaLoRAConfig(AdapterConfig):
    init_r: int = 12
    target_r: int = 8
    alpha: float = 8.0
    dropout: float = 0.0
    total_step: Optional[int] = None
    tinit: int = 0
    tfinal: int = 0
    deltaT: int = 1
    beta1: float = 0.85
    beta2: float = 0.85
    orth_reg_weight: float = 0.5

    def validate(self) -> None:
        super().validate()
        self.check_integer("init_r", "target_r", "deltaT")
        if self.total_step is None:
            raise AdapterConfigError(
                "adalora needs total_step in adapter_conf: the number of optimizer steps of the "
                "training run (epochs x batches per epoch / accum_grad), e.g. "
                "--adapter_conf '{\"total_step\": 1000}'")
        self.check_integer("total_step")
        self.check_integer("tinit", "tfinal", minimum=0)
        if self.target_r > self.init_r:
            raise AdapterConfigError(
                f"adalora: target_r ({self.target_r}) must not exceed init_r ({self.init_r})")
        if self.tinit >= self.total_step - self.tfinal:
            raise AdapterConfigError(
                f"adalora: the schedule leaves no budgeting phase: need tinit ({self.tinit}) < "
                f"total_step ({self.total_step}) - tfinal ({self.tfinal})")
        for name in ("beta1", "beta2"):
            self.check_interval(name, 0, 1, "()")
        self.check_interval("orth_reg_weight", 0, brackets="[)")
        self.check_interval("dropout", 0, 1, "[)")

    @property
    def scaling(self) -> float:
        return self.alpha / self.init_r


# ----- the allocator -----------------------------------------------------------------

_LIVE_ALLOCATORS: "weakref.WeakSet[RankAllocator]" = weakref.WeakSet()
_HOOK_HANDLE = None


def _after_optimizer_step(optimizer, args, kwargs) -> None:
    """Global optimizer post-hook: allocate for every model whose AdaLoRA parameters
    this optimizer holds."""
    allocators = [a for a in list(_LIVE_ALLOCATORS) if a.layers]
    if not allocators:
        return
    held = {id(p) for group in optimizer.param_groups for p in group["params"]}
    for allocator in allocators:
        if id(allocator.layers[0].lora_E) in held:
            allocator.after_optimizer_step()


def _track(allocator: "RankAllocator") -> None:
    global _HOOK_HANDLE
    _LIVE_ALLOCATORS.add(allocator)
    if _HOOK_HANDLE is None:
        _HOOK_HANDLE = register_optimizer_step_post_hook(_after_optimizer_step)


class RankAllocator(nn.Module):
    """Model-wide AdaLoRA state: the optimizer-step counter (a persistent buffer) and the
    budget schedule / global masking over all layers (see the module docstring)."""

    def __init__(self, config: AdaLoRAConfig):
        super().__init__()
        self.config = config
        self.register_buffer("global_step", torch.zeros((), dtype=torch.int64))
        object.__setattr__(self, "layers", [])  # not submodules: each layer is owned by the model
        _track(self)

    def __setstate__(self, state):  # deepcopy / unpickling: the copy is tracked too
        super().__setstate__(state)
        _track(self)

    def add_layer(self, layer: "AdaLoRALinear") -> None:
        self.layers.append(layer)

    @property
    def init_budget(self) -> int:
        return sum(layer.r for layer in self.layers)

    @property
    def target_budget(self) -> int:
        return self.config.target_r * len(self.layers)

    def budget(self, step: int):
        """(number of triplets to keep, whether to mask at this step)."""
        c = self.config
        if step <= c.tinit:
            return self.init_budget, False
        if step > c.total_step - c.tfinal:
            return self.target_budget, True
        remaining = 1 - (step - c.tinit) / (c.total_step - c.tfinal - c.tinit)
        budget = int((self.init_budget - self.target_budget) * remaining ** 3 + self.target_budget)
        return budget, step % c.deltaT == 0

    @torch.no_grad()
    def after_optimizer_step(self) -> None:
        self.global_step += 1
        step = int(self.global_step)
        final = self.config.total_step - self.config.tfinal
        if step < final:
            for layer in self.layers:
                layer.update_importance(self.config.beta1, self.config.beta2)
            budget, do_mask = self.budget(step)
            if do_mask:
                self.mask_to_budget(budget)
        elif step == final:
            self.mask_to_budget(self.target_budget)
            for layer in self.layers:
                layer.adalora_importance.zero_()
            logging.info("espnet_peft: adalora final allocation at step %d: ranks %s",
                         step, [layer.rank for layer in self.layers])
        else:
            for layer in self.layers:
                layer.apply_mask()

    @torch.no_grad()
    def mask_to_budget(self, budget: int) -> None:
        """Keep the ``budget`` most important triplets over all layers; mask the rest."""
        scores = [layer.triplet_scores() for layer in self.layers]
        k = self.init_budget - budget
        if k <= 0:
            return
        threshold = torch.kthvalue(torch.cat(scores), k).values
        for layer, score in zip(self.layers, scores):
            layer.adalora_mask.copy_((score > threshold).to(layer.adalora_mask.dtype))
            layer.apply_mask()

    def extra_repr(self) -> str:
        return f"layers={len(self.layers)}, total_step={self.config.total_step}"


class Importance(nn.Module):
    """EMA-smoothed sensitivity (``ipt_*``) and uncertainty (``unc_*``) of every entry
    of P, Lambda and Q of one layer (persistent, so a resumed run keeps them)."""

    def __init__(self, shapes, device, dtype):
        super().__init__()
        for name, shape in shapes.items():
            self.register_buffer(f"ipt_{name}", torch.zeros(shape, device=device, dtype=dtype))
            self.register_buffer(f"unc_{name}", torch.zeros(shape, device=device, dtype=dtype))

    def zero_(self) -> None:
        for buf in self.buffers():
            buf.zero_()

    def score(self, name: str) -> torch.Tensor:
        return getattr(self, f"ipt_{name}") * getattr(self, f"unc_{name}")


@register_method(CARD["name"], AdaLoRAConfig)
class AdaLoRALinear(AdapterLinear):
    method = "adalora"
    adapter_tensor_names = FACTORS + ("adalora_mask", "adalora_importance")

    def __init__(self, base: nn.Linear, config: AdaLoRAConfig, allocator: RankAllocator):
        super().__init__(base, config)
        r = self.r = config.init_r
        if r > self.max_rank:
            raise AdapterConfigError(
                f"adalora: init_r={r} exceeds the rank of a {self.out_features}x{self.in_features} layer")
        dev, dt = base.weight.device, base.weight.dtype
        self.lora_A = nn.Parameter(torch.empty(r, self.in_features, device=dev, dtype=dt).normal_(0.0, 0.02))
        self.lora_E = nn.Parameter(torch.zeros(r, 1, device=dev, dtype=dt))
        self.lora_B = nn.Parameter(torch.empty(self.out_features, r, device=dev, dtype=dt).normal_(0.0, 0.02))
        # 1 = triplet kept. Float, so ESPnet's checkpoint averaging yields the union (> 0).
        self.register_buffer("adalora_mask", torch.ones(r, device=dev, dtype=dt))
        self.adalora_importance = Importance(
            {n: getattr(self, n).shape for n in FACTORS}, dev, dt)
        self.scaling = config.scaling
        self.orth_reg_weight = config.orth_reg_weight
        self.lora_dropout = adapter_dropout(config.dropout)
        object.__setattr__(self, "allocator", allocator)
        allocator.add_layer(self)

    @classmethod
    def from_linear(cls, base, config: AdaLoRAConfig, shared: nn.ModuleDict, name: str):
        if SHARED_KEY not in shared:
            shared[SHARED_KEY] = RankAllocator(config)
        return cls(base, config, shared[SHARED_KEY])

    # ----- the delta --------------------------------------------------------------
    def delta_forward(self, x: torch.Tensor) -> torch.Tensor:
        h = (self.lora_dropout(x) @ self.lora_A.t()) * self.lora_E.view(-1)
        return (h @ self.lora_B.t()) * self.scaling

    def delta_weight(self) -> torch.Tensor:
        return (self.lora_B @ (self.lora_A * self.lora_E)) * self.scaling

    def regularization_loss(self) -> Optional[torch.Tensor]:
        if self.orth_reg_weight == 0:
            return None
        eye = torch.eye(self.r, device=self.lora_A.device, dtype=self.lora_A.dtype)
        reg = torch.linalg.matrix_norm(self.lora_A @ self.lora_A.t() - eye) \
            + torch.linalg.matrix_norm(self.lora_B.t() @ self.lora_B - eye)
        return self.orth_reg_weight * reg / (2 * len(self.allocator.layers))

    # ----- rank allocation ----------------------------------------------------------
    @property
    def rank(self) -> int:
        """Number of triplets the current allocation keeps."""
        return int((self.adalora_mask > 0).sum())

    def rank_values(self):
        return self.lora_E.detach().view(-1), self.rank

    @classmethod
    def rank_records(cls, tensors, where: str):
        names = [k[: -len(".lora_E")] for k in tensors if k.endswith(".lora_E")]
        return [(n, (int(tensors[f"{n}.lora_B"].shape[0]), int(tensors[f"{n}.lora_A"].shape[1])),
                 tensors[f"{n}.lora_E"].view(-1), int((tensors[f"{n}.adalora_mask"] > 0).sum())) for n in names]

    @torch.no_grad()
    def update_importance(self, beta1: float, beta2: float) -> None:
        imp = self.adalora_importance
        for name in FACTORS:
            p = getattr(self, name)
            if p.grad is None:
                continue
            sensitivity = (p * p.grad).abs()
            ipt, unc = getattr(imp, f"ipt_{name}"), getattr(imp, f"unc_{name}")
            ipt.mul_(beta1).add_((1 - beta1) * sensitivity)
            unc.mul_(beta2).add_((1 - beta2) * (sensitivity - ipt).abs())

    def triplet_scores(self) -> torch.Tensor:
        imp = self.adalora_importance
        return imp.score("lora_E").view(-1) + (
            imp.score("lora_A").mean(dim=1) + imp.score("lora_B").mean(dim=0))

    @torch.no_grad()
    def apply_mask(self) -> None:
        self.lora_E.masked_fill_((self.adalora_mask <= 0).view(-1, 1), 0.0)
