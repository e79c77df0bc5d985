"""Proximal steps: penalties that are applied after the optimiser step, not through the loss.

A non-smooth penalty such as S2-LoRA's L1 term on its rank coefficients never produces
exact zeros when its subgradient is added to the loss (the coefficient oscillates around
0 by about the learning rate per step, and Adam rescales the subgradient like any other
gradient). Proximal gradient descent instead takes the optimiser's step on the loss and
then applies the penalty's proximal operator, here soft-thresholding
``x <- sign(x) max(|x| - t, 0)``, which sets a coefficient exactly to 0 whenever the
step would move it across 0.

``t`` is the penalty weight times the step size the optimiser used for that entry. For
SGD that is the learning rate. For Adam/AdamW (any optimiser with ``betas`` and a second
moment ``exp_avg_sq``) it is ``lr / (sqrt(v_hat) + eps)``, the
optimiser's per-entry preconditioner (``v_hat`` = bias-corrected second moment), so that
the fixed points are those of the penalised problem: a coefficient stays at 0 exactly
when its (averaged) loss gradient is smaller than the penalty weight, whatever the loss
scale, learning rate or number of steps.

Layers take part by overriding ``AdapterModule.proximal_step``. ESPnet training runs
install the steps automatically (``espnet_peft.integration.tasks``); elsewhere, call
``install_proximal_steps(model, optimizer)`` once after building the optimiser.
"""

from __future__ import annotations

from typing import Callable, List, Sequence, Union

import torch
import torch.nn as nn

from espnet_peft.core.layer import AdapterModule

StepSize = Callable[[nn.Parameter], Union[torch.Tensor, float, None]]


def optimizer_step_sizes(optimizer: torch.optim.Optimizer) -> StepSize:
    """The per-entry step size ``optimizer`` used for a parameter in its last step (None
    for a parameter it does not hold or has not stepped yet)."""
    groups = {id(p): group for group in optimizer.param_groups for p in group["params"]}

    def step_size(param: nn.Parameter):
        group = groups.get(id(param))
        if group is None:
            return None
        lr = float(group["lr"])
        if "betas" not in group:  # SGD and others without a second moment
            return lr
        state = optimizer.state.get(param, {})
        step = float(state.get("step", 0))
        if step == 0 or "exp_avg_sq" not in state:
            return None
        v = state["max_exp_avg_sq"] if group.get("amsgrad") and "max_exp_avg_sq" in state else state["exp_avg_sq"]
        beta2 = group["betas"][1]
        return lr / ((v / (1 - beta2 ** step)).sqrt() + group["eps"])

    return step_size


def proximal_layers(model: nn.Module) -> List[nn.Module]:
    """The adapter layers of ``model`` that apply a proximal step."""
    return [m for m in model.modules()
            if isinstance(m, AdapterModule) and type(m).proximal_step is not AdapterModule.proximal_step]


@torch.no_grad()
def apply_proximal_steps(layers: Sequence[nn.Module], optimizer: torch.optim.Optimizer) -> None:
    step_size = optimizer_step_sizes(optimizer)
    for layer in layers:
        layer.proximal_step(step_size)


def install_proximal_steps(model: nn.Module, optimizers) -> list:
    """After every ``step()`` of each optimiser, apply the proximal steps of ``model``'s
    layers. Returns the hook handles (empty when no layer has a proximal step)."""
    layers = proximal_layers(model)
    if not layers:
        return []
    if isinstance(optimizers, torch.optim.Optimizer):
        optimizers = [optimizers]
    return [opt.register_step_post_hook(lambda opt, args, kwargs: apply_proximal_steps(layers, opt))
            for opt in optimizers]
