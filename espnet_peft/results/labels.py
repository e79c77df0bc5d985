"""How methods, hyperparameters and numbers are written in tables and plot legends."""

from __future__ import annotations

from typing import Dict, Optional

METHOD_NAMES = {"zero_shot": "zero-shot", "full": "full fine-tuning", "lora": "LoRA", "dora": "DoRA",
                "pissa": "PiSSA", "ssvd": "SSVD", "ssvd_o": "SSVD-O", "s2lora": "S2-LoRA",
                "adalora": "AdaLoRA", "vera": "VeRA", "bitfit": "BitFit", "bottleneck": "bottleneck adapter",
                "semiorth": "semi-orthogonal"}
# adapter_conf key -> (short name, unicode symbol for markdown/plots, LaTeX)
HP_NAMES = {"r": ("r", "r", "$r$"), "alpha": ("alpha", "α", r"$\alpha$"), "k": ("k", "k", "$k$"),
            "k_fraction": ("k", "k", "$k$"), "rotation": ("rotation", "rotation", "rotation"),
            "budget_ratio": ("outer", "outer", "outer"), "l1_weight": ("l1", "L1", "L1"),
            "init_r": ("r_init", "r_init", r"$r_\mathrm{init}$"),
            "target_r": ("r_target", "r_target", r"$r_\mathrm{target}$"),
            "top_k_layers": ("top", "top layers", "top layers"), "bottleneck_dim": ("dim", "dim", "dim"),
            "rank_fraction": ("rank", "rank", "rank"), "lr": ("lr", "lr", "lr")}
FRACTIONS = ("k_fraction", "rank_fraction")  # shown as percentages


def method_name(method: str) -> str:
    return METHOD_NAMES.get(method, method)


def _value(key: str, value, percent: str) -> str:
    if key in FRACTIONS and isinstance(value, (int, float)):
        return f"{100 * value:g}{percent}"
    return f"{value:g}" if isinstance(value, float) else str(value)


def hp_text(hp: Dict[str, object], style: str = "unicode") -> str:
    """``r=8, α=16, lr=0.003`` (style ``unicode``), ``r=8, alpha=16, ...`` (``ascii``) or
    LaTeX (``latex``, already escaped)."""
    index = {"ascii": 0, "unicode": 1, "latex": 2}[style]
    percent = r"\%" if style == "latex" else "%"
    parts = []
    for key, value in hp.items():
        name = HP_NAMES.get(key, (key, key, latex_escape(key)))[index]
        text = _value(key, value, percent)
        parts.append(f"{name}={latex_escape(text) if style == 'latex' and key not in FRACTIONS else text}")
    return ", ".join(parts)


def params_m(count: Optional[int]) -> Optional[str]:
    """Millions of parameters: 3 decimals below 1M, 2 above."""
    if count is None:
        return None
    m = count / 1e6
    return f"{m:.3f}" if m < 1 else f"{m:.2f}"


_LATEX_SPECIALS = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                   "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIALS.get(c, c) for c in str(text))
