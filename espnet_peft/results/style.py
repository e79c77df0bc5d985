"""Shared look of every result plot and the writer that saves a figure as PNG and PDF
(each method's colour and marker are its card's: ``espnet_peft.methods.catalog``). Uses
matplotlib's Agg backend (no display)."""

from __future__ import annotations

import functools
import io
from pathlib import Path
from typing import List

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from espnet_peft.core.atomic import write_if_changed  # noqa: E402

RC = {"font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "legend.fontsize": 8,
      "axes.grid": True, "grid.alpha": 0.3, "axes.spines.top": False, "axes.spines.right": False,
      "savefig.dpi": 150, "figure.dpi": 100}
# No timestamps or version strings in the files: the same results give the same bytes.
_METADATA = {"png": {"Software": None}, "pdf": {"CreationDate": None, "Creator": None, "Producer": None}}


def styled(plot_fn):
    """Draw (and save) a plot function's figure under the shared style."""
    @functools.wraps(plot_fn)
    def wrapper(*args, **kwargs):
        with plt.rc_context(RC):
            return plot_fn(*args, **kwargs)
    return wrapper


def figure(ncols: int, nrows: int = 1, width: float = 4.2, height: float = 3.4):
    """A figure of nrows x ncols panels of about width x height inches each."""
    return plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False,
                        layout="constrained")


def save(fig, stem: Path) -> List[Path]:
    """Write ``<stem>.png`` and ``<stem>.pdf``; an unchanged file is left untouched (so a
    re-run of a finished recipe changes nothing). Closes the figure."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in ("png", "pdf"):
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, metadata=_METADATA[fmt], dpi=RC["savefig.dpi"])
        written.append(write_if_changed(stem.with_suffix(f".{fmt}"), buf.getvalue()))
    plt.close(fig)
    return written
