"""Checkpoint I/O that cannot run pickled code and cannot leave a half-written file.

ESPnet reads ``--init_param`` and ``checkpoint.pth`` with ``torch.load(weights_only=False)``
(unpickling arbitrary objects: a downloaded ``.pth`` could run code) and writes
``checkpoint.pth`` / ``<N>epoch.pth`` with a plain ``torch.save`` (a job killed while
writing leaves a truncated file that ``--resume`` then cannot read). Our entry points
run ESPnet inside ``espnet_io_guards()``, which routes both through the functions here:

- ``load_tensors``: ``torch.load(weights_only=True)`` with a small allow-list of plain
  data types ESPnet's trainer stores in ``checkpoint.pth`` (numpy scalars and dtypes,
  ``datetime.timedelta``); anything else (a class, a function, ``os.system``) is refused
  with an error naming the file;
- ``atomic_torch_save``: writes to a temporary file beside the target, fsync, rename.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import pickle
from pathlib import Path

import numpy as np
import torch

from espnet_peft.core.atomic import atomic_write
from espnet_peft.core.errors import AdapterFileError

_torch_load = torch.load


def _data_only_globals():
    """Types ESPnet's reporter/optimizer state pickles that carry data, not code."""
    dtypes = [getattr(np.dtypes, n) for n in dir(np.dtypes) if n.endswith("DType")]
    return [np._core.multiarray.scalar, np.dtype, datetime.timedelta, *dtypes]


def load_tensors(f, *args, **kwargs):
    """``torch.load`` that never runs pickled code: a file holding anything but tensors,
    plain containers and the data types above is refused with an error naming it."""
    kwargs["weights_only"] = True
    try:
        with torch.serialization.safe_globals(_data_only_globals()):
            return _torch_load(f, *args, **kwargs)
    except pickle.UnpicklingError as e:
        raise AdapterFileError(
            f"{f} is not a plain tensor checkpoint: it holds pickled Python objects other than "
            f"tensors (possibly code), which espnet_peft does not load ({str(e).splitlines()[-1][:200]}); "
            "re-save it as a state dict of tensors") from None
    except (RuntimeError, EOFError, OSError) as e:
        if isinstance(f, (str, os.PathLike)) and Path(f).is_file():
            raise AdapterFileError(
                f"{f} cannot be read as a torch checkpoint ({e}); it may be truncated (a job killed "
                "while writing it?) -- move it away and resume from an earlier checkpoint") from None
        raise


def atomic_torch_save(save):
    """Wrap ``save`` (a ``torch.save``) so that saving to a path goes through a temp file
    + rename; file objects are passed through."""
    def atomic_save(obj, f, *args, **kwargs):
        if not isinstance(f, (str, os.PathLike)):
            return save(obj, f, *args, **kwargs)
        atomic_write(Path(f), lambda tmp: save(obj, tmp, *args, **kwargs))
    return atomic_save


@contextlib.contextmanager
def weights_only_torch_load():
    """Route ``torch.load`` through ``load_tensors`` for the duration."""
    previous = torch.load
    torch.load = load_tensors
    try:
        yield
    finally:
        torch.load = previous


@contextlib.contextmanager
def espnet_io_guards():
    """Safe loads and atomic saves for everything ESPnet reads and writes meanwhile."""
    previous_save = torch.save  # wrapped as it is now (tests inject faults by replacing it)
    torch.save = atomic_torch_save(previous_save)
    try:
        with weights_only_torch_load():
            yield
    finally:
        torch.save = previous_save
