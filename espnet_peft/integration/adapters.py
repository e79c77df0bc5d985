"""ESPnet's adapter table: every espnet_peft method as an ``--adapter`` choice.

ESPnet's order in ``AbsTask.main_worker`` is build -> freeze -> ``create_adapter`` ->
optimizer -> load ``--init_param`` -> ``Trainer.run``. Our ``create_adapter`` functions
only give adapters their shapes; the trainer (``espnet_peft.integration.tasks``)
initialises them from the weights ESPnet has loaded by then.
"""

from __future__ import annotations

from typing import Optional

import torch

from espnet_peft.core.adapter_tensors import adapter_layers
from espnet_peft.core.inject import adapter_regularization, inject_adapters, mark_only_adapters_trainable
from espnet_peft.core.registry import registered_methods

ESPNET_BUILTIN_LORA = "espnet_lora"


def _add_regularization_to_loss(module, args, output):
    """ESPnet models return (loss, stats, weight); add the adapters' penalty in training."""
    if not module.training or not isinstance(output, tuple) or not torch.is_tensor(output[0]):
        return output
    reg = adapter_regularization(module)
    if reg is None:
        return output
    stats = output[1]
    if isinstance(stats, dict):
        stats = dict(stats, adapter_reg=reg.detach())
    return (output[0] + reg, stats) + tuple(output[2:])


def _adapter_fn(method: str):
    def create(model: torch.nn.Module, **adapter_conf) -> None:
        inject_adapters(model, method, **adapter_conf)
        # Unlike ESPnet's built-in lora, never leave the base weights trainable.
        mark_only_adapters_trainable(model)
        if any(layer.regularization_loss() is not None for _, layer in adapter_layers(model)):
            model.register_forward_hook(_add_regularization_to_loss)
    create.__name__ = f"create_{method}_adapter"
    return create


def register_espnet_adapters() -> None:
    """Add every method to ``create_adapter_fn_table``. Ours replaces ESPnet's loralib
    ``lora``, which stays available as ``espnet_lora``."""
    from espnet2.layers import create_adapter as ca

    table = ca.create_adapter_fn_table
    if ESPNET_BUILTIN_LORA not in table and "lora" in table:
        table[ESPNET_BUILTIN_LORA] = table["lora"]
    for name in registered_methods():
        table[name] = _adapter_fn(name)


def is_peft_method(name: Optional[str]) -> bool:
    return name in registered_methods()
