"""How methods, hyperparameters and numbers are written in tables and plot legends
(names and labels from the method catalog, ``espnet_peft.methods.catalog``)."""

from __future__ import annotations

from typing import Dict, Optional

from espnet_peft.methods import catalog

_STYLES = ("ascii", "unicode", "latex")


def method_name(method: str) -> str:
    return catalog.display_name(method)


def _value(value, percent: bool, sign: str) -> str:
    if percent and isinstance(value, (int, float)):
        return f"{100 * value:g}{sign}"
    return f"{value:g}" if isinstance(value, float) else str(value)


def hp_text(hp: Dict[str, object], style: str = "unicode") -> str:
    """``r=8, α=16, lr=0.003`` (style ``unicode``), ``r=8, alpha=16, ...`` (``ascii``) or
    LaTeX (``latex``, already escaped); names and percentages from the method cards'
    hyperparameter labels (a key no card has, such as ``lr``, is written as itself)."""
    if style not in _STYLES:
        raise KeyError(style)
    sign = r"\%" if style == "latex" else "%"
    parts = []
    for key, value in hp.items():
        labels = catalog.hyperparameter_labels(key)
        name = labels[style]
        if name is None:  # no LaTeX of its own: the ascii label, escaped
            name = latex_escape(str(labels["ascii"]))
        text = _value(value, bool(labels["percent"]), sign)
        parts.append(f"{name}={latex_escape(text) if style == 'latex' and not labels['percent'] else text}")
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
