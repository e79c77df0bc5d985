"""Run a function on a module once it has been imported -- now, or whenever some later
code imports it -- without importing it ourselves.

espnet_peft registers itself with ESPnet this way (adapter types when
``espnet2.layers.create_adapter`` loads, encoder/decoder choices when
``espnet2.tasks.asr`` loads), so that ``import espnet_peft`` stays cheap for the recipe
helpers, which need neither torch nor ESPnet.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from typing import Callable, Dict, List

_pending: Dict[str, List[Callable]] = {}


class _AfterImportFinder(importlib.abc.MetaPathFinder):
    """Wraps the loader of a watched module so that its callbacks run after it executes."""

    _searching = False

    def find_spec(self, fullname, path, target=None):
        if fullname not in _pending or self._searching:
            return None
        self._searching = True  # let the other finders locate the module
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            self._searching = False
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_then_call(module):
            exec_module(module)
            for fn in _pending.pop(fullname, []):
                fn(module)

        spec.loader.exec_module = exec_then_call
        return spec


_FINDER = _AfterImportFinder()


def after_import(name: str, fn: Callable) -> None:
    """Call ``fn(module)`` now if ``name`` is imported, else right after its import."""
    module = sys.modules.get(name)
    if module is not None:
        fn(module)
        return
    callbacks = _pending.setdefault(name, [])
    if fn not in callbacks:
        callbacks.append(fn)
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)
