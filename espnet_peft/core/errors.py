"""The errors the package raises; each message names the field, file or module at fault
and what was expected."""


class AdapterConfigError(ValueError):
    """An adapter_conf key, value or target pattern that does not fit the method or model."""


class AdapterFileError(RuntimeError):
    """An adapter file or checkpoint that cannot be read, or does not fit the model."""


class BaseModelMismatchError(AdapterFileError):
    """An adapter loaded onto another base model than the one it was trained on."""


class AdapterMergeError(RuntimeError):
    """An adapter that adds computation (bottleneck) was asked to merge."""


class AdapterNotInitializedError(RuntimeError):
    """An adapter used before ``initialize_adapters`` filled it from the base weights."""
