"""espnet_peft: parameter-efficient fine-tuning methods as ESPnet adapters.

The API works on any ``torch.nn.Module``; importing the package also registers every
method in ESPnet's ``create_adapter_fn_table`` when ESPnet is installed.
"""

from espnet_peft import methods  # noqa: F401  (registers the methods)
from espnet_peft.config import AdapterConfig, AdapterConfigError
from espnet_peft.inject import (
    adapter_layers, adapter_parameters, adapter_regularization, count_parameters,
    initialize_adapters, inject_adapters, mark_only_adapters_trainable, merge_adapters,
    merge_and_unload, unmerge_adapters,
)
from espnet_peft.layer import (
    AdapterLinear, AdapterMergeError, AdapterModule, AdapterNotInitializedError, OutputAdapter,
)
from espnet_peft.registry import METHODS, get_method
from espnet_peft.state import (
    AdapterFileError, BaseModelMismatchError, adapter_state_dict, load_adapter,
    load_adapter_state_dict, save_adapter,
)

__version__ = "0.1.0"

__all__ = [
    "AdapterConfig", "AdapterConfigError", "AdapterFileError", "AdapterLinear", "AdapterMergeError",
    "AdapterModule", "AdapterNotInitializedError", "OutputAdapter", "BaseModelMismatchError", "METHODS", "adapter_layers",
    "adapter_parameters", "adapter_regularization", "adapter_state_dict", "count_parameters",
    "get_method", "initialize_adapters", "inject_adapters", "load_adapter",
    "load_adapter_state_dict", "mark_only_adapters_trainable", "merge_adapters",
    "merge_and_unload", "save_adapter", "unmerge_adapters",
]

try:  # ESPnet is optional for the plain-PyTorch API
    from espnet_peft.espnet import register_espnet_adapters
except ImportError:  # pragma: no cover - exercised only without ESPnet
    register_espnet_adapters = None
else:
    register_espnet_adapters()
    import espnet_peft.whisper  # noqa: F401,E402  (ASR encoder/decoder choice whisper_ckpt)
