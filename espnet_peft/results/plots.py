"""Result plots, one function per plot; each writes ``<stem>.png`` and ``<stem>.pdf`` and
returns their paths (None when there is nothing to draw). Input rows are those of
``espnet_peft.results.scan.collect`` for one base model; each method is drawn in its
card's colour and marker and named by its display name (``espnet_peft.methods.catalog``).
Runs without a number (failed, missing, not decoded) cannot be drawn; each panel says how
many it left out. Error bars are the 95 % bootstrap intervals of the error rates (none
for a score.json written before scoring added them); the efficiency frontier joins the
point estimates and says nothing about which differences the intervals resolve.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from matplotlib import colormaps

from espnet_peft.methods import catalog
from espnet_peft.methods.catalog import FULL, ZERO_SHOT, color, marker
from espnet_peft.results import ranks as rank_files
from espnet_peft.results.curves import Curves
from espnet_peft.results.labels import hp_text, method_name
from espnet_peft.results.schema import Row, interval
from espnet_peft.results.style import figure, save, styled
from espnet_peft.results.tables import is_number, metric_name


def _error_bars(rows: Sequence[Row], column: str) -> Optional[np.ndarray]:
    """(2, n) distances from each row's error rate to its interval's ends, for
    ``errorbar``: NaN (no bar) for a row without one; None when no row has one."""
    bars = np.full((2, len(rows)), np.nan)
    for i, r in enumerate(rows):
        ci = interval(r, column)
        if ci:  # the point and its ends are rounded separately: never a negative length
            bars[:, i] = max(r[column] - ci[0], 0.0), max(ci[1] - r[column], 0.0)
    return None if np.isnan(bars).all() else bars


def _domains(rows: Sequence[Row]) -> List[str]:
    return list(dict.fromkeys(str(r["domain"]) for r in rows))


def _domains_with_numbers(rows: Sequence[Row]) -> Tuple[List[str], Dict[str, str]]:
    """Target domains with at least one target WER, and why each of the others has none."""
    domains = _domains(rows)
    full = [d for d in domains if any(r["domain"] == d and is_number(r["target_wer"]) for r in rows)]
    return full, {d: _left_out([r for r in rows if r["domain"] == d], []) for d in domains if d not in full}


def _methods(rows: Sequence[Row]) -> List[str]:
    present = list(dict.fromkeys(str(r["method"]) for r in rows))
    return sorted(present, key=catalog.order_key)


def _left_out(rows: Sequence[Row], drawn: Sequence[Row]) -> str:
    """'(not shown: N run(s): reasons)' for rows that were not drawn, else ''."""
    left = [r for r in rows if not any(r is d for d in drawn)]
    if not left:
        return ""
    reasons = sorted({r["target_wer"] if isinstance(r["target_wer"], str) else
                      (str(r["status"]) if r["status"] != "ok" else "no WER") for r in left})
    return f"(not shown: {len(left)} run(s): {', '.join(reasons)})"


def _xlabel(ax, label: str, rows: Sequence[Row], drawn: Sequence[Row]) -> None:
    note = _left_out(rows, drawn)
    ax.set_xlabel(f"{label}\n{note}" if note else label)


def _no_data_caption(fig, empty: Dict[str, str]) -> None:
    """Name the target domains that got no panel because none of their runs has numbers."""
    if empty:
        fig.supxlabel("no numbers for " + "; ".join(f"{d} {why}" for d, why in empty.items()), fontsize=8,
                      color="#b22222")


def _domain_panels(rows: Sequence[Row]):
    """(figure, axes, domains): one panel per target domain with numbers, the others named
    below; None when no domain has any."""
    domains, empty = _domains_with_numbers(rows)
    if not domains:
        return None
    fig, axes = figure(len(domains))
    _no_data_caption(fig, empty)
    return fig, axes, domains


def _figure_legend(fig, axes) -> None:
    handles: Dict[str, object] = {}
    for ax in np.ravel(axes):
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    order = [method_name(m) for m in catalog.cards()]
    labels = sorted(handles, key=lambda label: next((i for i, name in enumerate(order)
                                                     if label == name or label.startswith(name + " (")),
                                                    len(order)))
    if labels:
        fig.legend([handles[x] for x in labels], labels, loc="outside right upper", frameon=False)


def pareto_front(points: Sequence[Tuple[float, float]]) -> List[Tuple[float, float]]:
    """Points that no other point beats on both axes (fewer parameters and lower WER)."""
    front: List[Tuple[float, float]] = []
    for x, y in sorted(points, key=lambda p: (p[0], p[1])):
        if not front or y < front[-1][1]:
            front.append((x, y))
    return front


def _off_scale(value: float, ys: Sequence[float]) -> bool:
    """True when value lies more than the data's own span (at least 1) above it."""
    return bool(ys) and value > max(ys) + (max(ys) - min(ys) + 1.0)


def _off_scale_note(ax, text: str) -> None:
    ax.annotate(text, xy=(0.5, 1.0), xycoords="axes fraction", ha="center", va="bottom", fontsize=8,
                color=color(ZERO_SHOT))


def _zero_shot_line(ax, rows: Sequence[Row], ys: Sequence[float]) -> List[Row]:
    """The zero-shot target WER as a dotted line, or as a note when it lies far above the
    adapted runs (a line there would squash them)."""
    zs = [r for r in rows if r["method"] == ZERO_SHOT and is_number(r["target_wer"])]
    for r in zs:
        wer = r["target_wer"]
        if _off_scale(wer, ys):
            _off_scale_note(ax, f"zero-shot {wer:.1f} % (off scale) ↑")
        else:
            ax.axhline(wer, ls=":", color=color(ZERO_SHOT), label=method_name(ZERO_SHOT))
    return zs


@styled
def wer_vs_params(rows: Sequence[Row], stem: Path, title: str = "") -> Optional[List[Path]]:
    """Target test WER (with its interval) against trainable parameters (log x), one panel
    per target domain: one marker per run, runs of one method joined, the efficiency
    frontier of the point estimates dashed, the zero-shot WER as a dotted line."""
    panels = _domain_panels(rows)
    if panels is None:
        return None
    fig, axes, domains = panels
    drawn_any = False
    for ax, domain in zip(axes[0], domains):
        drs = [r for r in rows if r["domain"] == domain]
        drawn, points = [], []
        for method in _methods(drs):
            pts = sorted((r for r in drs if r["method"] == method and is_number(r["target_wer"])
                          and is_number(r["trainable_params"]) and r["trainable_params"] > 0),
                         key=lambda r: r["trainable_params"])
            if not pts:
                continue
            xs, ys = [r["trainable_params"] for r in pts], [r["target_wer"] for r in pts]
            ax.errorbar(xs, ys, yerr=_error_bars(pts, "target_wer"), marker=marker(method), color=color(method),
                        ls="-" if len(pts) > 1 else "none", ms=8 if method == FULL else 6, capsize=2,
                        elinewidth=0.8, label=method_name(method))
            drawn += pts
            points += list(zip(xs, ys))
        front = pareto_front(points)
        if len(front) > 1:
            fx, fy = zip(*front)
            ax.plot(fx, fy, ls="--", color="#999999", lw=1, zorder=0, label="efficiency frontier")
        drawn_any = drawn_any or bool(points)
        drawn += _zero_shot_line(ax, drs, [y for _, y in points])
        ax.set_xscale("log")
        _xlabel(ax, "trainable parameters", drs, drawn)
        ax.set_ylabel(f"target test {metric_name(drs)} (%)")
        ax.set_title(f"target: {domain}", pad=14)
    return _finish(fig, axes, drawn_any, title, stem)


def _finish(fig, axes, drawn_any: bool, title: str, stem: Path) -> Optional[List[Path]]:
    """Legend, title and files of a per-domain figure; None when no panel has data."""
    if not drawn_any:
        return None
    _figure_legend(fig, axes)
    if title:
        fig.suptitle(title)
    return save(fig, stem)


@styled
def learning_vs_forgetting(rows: Sequence[Row], stem: Path, title: str = "") -> Optional[List[Path]]:
    """Target test WER (learning) against source test WER (forgetting), one panel per
    target domain, with both intervals as error bars; the zero-shot source WER (no
    forgetting) as a dotted line."""
    panels = _domain_panels(rows)
    if panels is None:
        return None
    fig, axes, domains = panels
    drawn_any = False
    for ax, domain in zip(axes[0], domains):
        drs = [r for r in rows if r["domain"] == domain]
        drawn = [r for r in drs if is_number(r["target_wer"]) and is_number(r["source_wer"])]
        adapted = [r["target_wer"] for r in drawn if r["method"] != ZERO_SHOT]
        for method in _methods(drawn):
            pts = [r for r in drawn if r["method"] == method]
            if method == ZERO_SHOT and all(_off_scale(r["target_wer"], adapted) for r in pts):
                for r in pts:  # far above the adapted runs: a note, and its source WER as the line below
                    _off_scale_note(ax, f"zero-shot: target {r['target_wer']:.1f} % (off scale) ↑, "
                                        f"source {r['source_wer']:.1f} %")
                continue
            ax.errorbar([r["source_wer"] for r in pts], [r["target_wer"] for r in pts],
                        xerr=_error_bars(pts, "source_wer"), yerr=_error_bars(pts, "target_wer"),
                        marker=marker(method), ls="none", color=color(method), ms=8 if method == FULL else 6,
                        capsize=2, elinewidth=0.8, label=method_name(method))
        for r in drawn:
            if r["method"] == ZERO_SHOT:
                ax.axvline(r["source_wer"], ls=":", color=color(ZERO_SHOT), lw=1)
        drawn_any = drawn_any or bool(drawn)
        unit = metric_name(drs)
        _xlabel(ax, f"source test {unit} (%)  (forgetting →)", drs, drawn)
        ax.set_ylabel(f"target test {unit} (%)  (learning ↓)")
        ax.set_title(f"target: {domain}", pad=14)
    return _finish(fig, axes, drawn_any, title, stem)


def sweep_plots() -> List[Tuple[str, str]]:
    """(method, plot name) for every method whose card names a ``sweep_plot``, in catalog
    order; the name is the method's and the swept key's first word (``budget_ratio``:
    ``<method>_budget``)."""
    return [(name, f"{name}_{card.sweep_plot['key'].split('_')[0]}")
            for name, card in catalog.cards().items() if card.sweep_plot]


@styled
def hyperparameter_sweep(rows: Sequence[Row], method: str, stem: Path, title: str = "") -> Optional[List[Path]]:
    """One method's target and source test WER against the hyperparameter that its card's
    ``sweep_plot`` names (x axis: the card's label); one line per setting of the other
    hyperparameters. None unless the method ran with at least two values of it."""
    card = catalog.card(method)
    if card is None or not card.sweep_plot:
        raise ValueError(f"{method!r}: its method card names no sweep_plot")
    key, label = card.sweep_plot["key"], card.sweep_plot["label"]
    sweep = [r for r in rows if r["method"] == method and is_number(r["hyperparameters"].get(key))]
    if len({r["hyperparameters"][key] for r in sweep}) < 2:
        return None
    panels = _domain_panels(sweep)
    if panels is None:
        return None
    fig, axes, domains = panels

    def others(r: Row) -> str:
        return hp_text({k: v for k, v in r["hyperparameters"].items() if k != key})

    for ax, domain in zip(axes[0], domains):
        drs = [r for r in sweep if r["domain"] == domain]
        settings = list(dict.fromkeys(others(r) for r in drs))
        drawn = []
        for i, setting in enumerate(settings):
            pts = sorted((r for r in drs if others(r) == setting), key=lambda r: r["hyperparameters"][key])
            suffix = f" ({setting})" if len(settings) > 1 else ""
            for wer, ls, what in (("target_wer", "-", "target"), ("source_wer", "--", "source")):
                good = [r for r in pts if is_number(r[wer])]
                if good:
                    ax.errorbar([r["hyperparameters"][key] for r in good], [r[wer] for r in good],
                                yerr=_error_bars(good, wer), ls=ls, marker="o" if what == "target" else "s",
                                color=f"C{i}", capsize=2, elinewidth=0.8, label=f"{what} test{suffix}")
            drawn += [r for r in pts if is_number(r["target_wer"])]
        _xlabel(ax, label, drs, drawn)
        ax.set_ylabel(f"test {metric_name(drs)} (%)")
        ax.set_title(f"{method_name(method)}, target: {domain}")
    return _finish(fig, axes, True, title, stem)


@styled
def training_curves(runs: Sequence[Tuple[Row, Curves]], stem: Path, title: str = "") -> Optional[List[Path]]:
    """Training and validation loss per epoch (ESPnet's epoch summaries), one row of
    panels per target domain, one line per run."""
    runs = [(r, c) for r, c in runs if c]
    if not runs:
        return None
    domains = _domains([r for r, _ in runs])
    fig, axes = figure(2, len(domains), height=3.0)
    for row_axes, domain in zip(axes, domains):
        druns = [(r, c) for r, c in runs if r["domain"] == domain]
        per_method: Dict[str, int] = {}
        for r, _ in druns:
            per_method[r["method"]] = per_method.get(r["method"], 0) + 1
        seen: Dict[str, int] = {}
        for r, c in sorted(druns, key=lambda rc: catalog.order_key(rc[0]["method"])):
            n = seen[r["method"]] = seen.get(r["method"], -1) + 1
            label = method_name(r["method"])
            if per_method[r["method"]] > 1:
                label += f" ({hp_text(r['hyperparameters'])})"
            epochs = sorted(c)
            for ax, section in zip(row_axes, ("train", "valid")):
                xs = [e for e in epochs if "loss" in c[e].get(section, {})]
                ax.plot(xs, [c[e][section]["loss"] for e in xs], color=color(r["method"]),
                        ls=["-", "--", ":", "-."][n % 4], marker=".", label=label)
        for ax, section in zip(row_axes, ("train", "valid")):
            ax.set_xlabel("epoch")
            ax.set_ylabel(f"{section} loss")
            ax.set_title(f"{section} loss, target: {domain}")
            ax.xaxis.get_major_locator().set_params(integer=True)
    _figure_legend(fig, axes)
    if title:
        fig.suptitle(title)
    return save(fig, stem)


def _short_layer(layer: str) -> str:
    return layer.replace("encoder.encoders.", "enc ").replace("decoder.decoders.", "dec ")


def _heatmap_panel(ax, layers, types, cells, vmax: float, fmt: str):
    grid = np.full((len(layers), len(types)), np.nan)
    for (layer, kind), value in cells.items():
        grid[layers.index(layer), types.index(kind)] = value
    image = ax.imshow(grid, cmap=colormaps["viridis"].with_extremes(bad="#dddddd"), vmin=0, vmax=vmax,
                      aspect="auto")
    for (i, j), value in np.ndenumerate(grid):
        if not np.isnan(value):
            ax.text(j, i, fmt.format(value), ha="center", va="center", fontsize=6.5,
                    color="white" if value < 0.6 * vmax else "black")
    ax.set_xticks(range(len(types)), [rank_files.short_type(t) for t in types], rotation=60, ha="right",
                  rotation_mode="anchor")
    ax.set_yticks(range(len(layers)), [_short_layer(x) for x in layers])
    ax.grid(False)
    return image


@styled
def rank_heatmap(rank_data: Sequence[Tuple[str, dict]], stem: Path, title: str = "") -> Optional[List[Path]]:
    """Learned rank (top row) and mean coefficient magnitude |values| relative to the
    largest (bottom row) per layer (rows) and matrix type (columns); one column of panels
    per (name, rank file content) in the given order (the writers': per target domain, in
    catalog order), one colour scale per row; grey = not adapted."""
    if not rank_data:
        return None
    ranks = [(name, data, *rank_files.rank_grid(data, "rank")) for name, data in rank_data]
    mags = [rank_files.rank_grid(data, "magnitude")[2] for _, data in rank_data]
    peak = max(max(cells.values()) for cells in mags) or 1.0
    mags = [{k: v / peak for k, v in cells.items()} for cells in mags]
    vmax = max(max(cells.values()) for *_, cells in ranks) or 1
    width = max(3.0, 0.42 * max(len(types) for _, _, _, types, _ in ranks) + 2.2)
    height = max(2.5, 0.32 * max(len(layers) for _, _, layers, _, _ in ranks) + 1.6)
    fig, axes = figure(len(ranks), nrows=2, width=width, height=height)
    for col, (name, data, layers, types, cells) in enumerate(ranks):
        label = f"{method_name(data['method'])}: {name}" if name else method_name(data["method"])
        rank_image = _heatmap_panel(axes[0][col], layers, types, cells, vmax, "{:.0f}")
        axes[0][col].set_title(f"{label}, rank")
        mag_image = _heatmap_panel(axes[1][col], layers, types, mags[col], 1.0, "{:.2f}")
        axes[1][col].set_title(f"{label}, mean |value| / max")
    fig.colorbar(rank_image, ax=list(axes[0]), label="rank", shrink=0.8)
    fig.colorbar(mag_image, ax=list(axes[1]), label="relative magnitude", shrink=0.8)
    if title:
        fig.suptitle(title)
    return save(fig, stem)
