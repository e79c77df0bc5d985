"""Peak memory of this process: read it, and reset the mark so that the next peak is
measured from the memory resident now (Linux ``/proc``; CUDA's allocator statistics)."""

from __future__ import annotations

import gc
import resource
import sys
from pathlib import Path


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def rss_mb() -> float:
    """Resident memory now (MB)."""
    return _status_kb("VmRSS") / 1024


def peak_rss_mb() -> float:
    """Peak resident memory (MB) since the process started or ``reset_peak`` last ran
    (``VmHWM``; ``ru_maxrss``, never reset, where /proc is missing)."""
    try:
        return _status_kb("VmHWM") / 1024
    except (OSError, RuntimeError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak() -> bool:
    """Hand free heap memory back to the OS (glibc ``malloc_trim``) and reset the peak-RSS
    mark to the resident memory now (``/proc/self/clear_refs``), and CUDA's peak statistics
    where CUDA is in use. False where the kernel or libc cannot reset the RSS mark."""
    import ctypes

    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        Path("/proc/self/clear_refs").write_text("5")
    except (OSError, AttributeError):
        return False
    return True
