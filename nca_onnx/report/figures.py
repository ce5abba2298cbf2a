"""The report's figures, drawn with matplotlib and returned as inline SVG text."""

from __future__ import annotations

import io
import math
import re

from nca_onnx.errors import MissingExtraError

__all__ = ["FLAGGED_COLOUR", "layer_criticality_svg", "neuron_spread_svg",
           "require_matplotlib", "stability_svg"]

FLAGGED_COLOUR = "#c62828"
_PLAIN_COLOUR = "#4e79a7"
_ADVERSARIAL_COLOUR = "#e15759"
_WIDTH_IN = 7.5
_ROW_HEIGHT_IN = 0.24
_MIN_HEIGHT_IN = 2.2
# Neuron criticality spans [-1, 2] but most values are tiny: a symlog axis, linear only
# below the 10th percentile of |mean|, keeps both the decision flips and the bulk visible.
_LINEAR_PERCENTILE = 10
_MIN_LINEAR_RANGE = 1e-7
_DECADES_PER_TICK_STEP = 4
_LABEL_CHARS = 42


def require_matplotlib() -> None:
    """Raises MissingExtraError, naming the extra, when matplotlib is not installed."""
    try:
        import matplotlib  # noqa: F401  (the figures are drawn with it)
    except ImportError as error:
        raise MissingExtraError(
            "the HTML report draws its figures with matplotlib, which is not installed; "
            "install the extra with pip install 'nca-onnx[report]'"
        ) from error


def _figure(height_in: float):
    require_matplotlib()
    from matplotlib.figure import Figure

    return Figure(figsize=(_WIDTH_IN, max(_MIN_HEIGHT_IN, height_in)), layout="constrained")


def _short(name: str) -> str:
    return name if len(name) <= _LABEL_CHARS else "..." + name[-(_LABEL_CHARS - 3):]


def _svg(figure, prefix: str) -> str:
    """SVG text without XML prolog; every id is prefixed so figures can share a page."""
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": prefix,
                                "font.size": 8}):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r'id="([^"]+)"', rf'id="{prefix}-\1"', text)
    text = re.sub(r'href="#([^"]+)"', rf'href="#{prefix}-\1"', text)
    text = re.sub(r"url\(#([^)]+)\)", rf"url(#{prefix}-\1)", text)
    return re.sub(r'<svg ([^>]*?)width="[^"]*" height="[^"]*"', r'<svg \1', text, count=1)


def layer_criticality_svg(section: dict, prefix: str) -> str:
    """Horizontal bars of each layer's normalised criticality, flagged layers in red."""
    layers = section["layers"]
    figure = _figure(_ROW_HEIGHT_IN * len(layers) + 1.0)
    axes = figure.add_subplot()
    values = [layer["normalised_criticality"] or 0.0 for layer in layers]
    colours = [FLAGGED_COLOUR if layer["flagged"] else _PLAIN_COLOUR for layer in layers]
    positions = range(len(layers))
    axes.barh(positions, values, color=colours)
    axes.set_yticks(list(positions), [_short(layer["layer"]) for layer in layers])
    axes.invert_yaxis()
    axes.axvline(0, color="black", linewidth=0.6)
    axes.set_xlabel("normalised criticality (mean over the layer's neurons of their mean)")
    axes.set_title(f"class {section['class']}: per-layer criticality, flagged layers in red",
                   loc="left")
    axes.grid(axis="x", linewidth=0.3)
    return _svg(figure, prefix)


def _linear_range(values: list[float]) -> float:
    """The power of ten below most non-zero |values|, so that typical neurons stay apart."""
    import numpy as np

    magnitudes = np.abs(np.asarray(values, dtype=np.float64))
    magnitudes = magnitudes[magnitudes > 0]
    if magnitudes.size == 0:
        return _MIN_LINEAR_RANGE
    typical = float(np.percentile(magnitudes, _LINEAR_PERCENTILE))
    return max(_MIN_LINEAR_RANGE, 10.0 ** math.floor(math.log10(typical)))


def neuron_spread_svg(section: dict, prefix: str) -> str:
    """Box plot per layer of its neurons' mean criticality; whiskers reach min and max."""
    from matplotlib.ticker import SymmetricalLogLocator

    order = [layer["layer"] for layer in section["layers"]]
    flagged = {layer["layer"] for layer in section["layers"] if layer["flagged"]}
    by_layer: dict[str, list[float]] = {name: [] for name in order}
    for row in section["neurons"]:
        by_layer[row["layer"]].append(row["mean"])
    figure = _figure(_ROW_HEIGHT_IN * len(order) + 1.0)
    axes = figure.add_subplot()
    boxes = axes.boxplot([by_layer[name] for name in order], orientation="horizontal",
                         whis=(0, 100), widths=0.6, patch_artist=True,
                         medianprops={"color": "black"})
    for name, box in zip(order, boxes["boxes"], strict=True):
        box.set_facecolor(FLAGGED_COLOUR if name in flagged else _PLAIN_COLOUR)
        box.set_alpha(0.75)
    axes.set_yticks(range(1, len(order) + 1), [_short(name) for name in order])
    axes.invert_yaxis()
    linear = _linear_range([value for values in by_layer.values() for value in values])
    axes.set_xscale("symlog", linthresh=linear)
    largest = max((abs(value) for values in by_layer.values() for value in values),
                  default=linear)
    decades = math.log10(max(largest, linear) / linear)
    # Every second decade when there are many, so that tick labels do not collide.
    base = 10 if decades <= _DECADES_PER_TICK_STEP else 100
    axes.xaxis.set_major_locator(SymmetricalLogLocator(linthresh=linear, base=base))
    axes.axvline(0, color="black", linewidth=0.6)
    axes.set_xlabel(f"mean criticality per neuron (symlog scale, linear within ±{linear:g})")
    axes.set_title(f"class {section['class']}: spread of neuron criticality within each "
                   "layer", loc="left")
    axes.grid(axis="x", linewidth=0.3)
    return _svg(figure, prefix)


def _curve(axes, rows: list[dict], data: str, metric: str, colour: str, label: str) -> None:
    measured = [row for row in rows if row.get(data)]
    if not measured:
        return
    x = [row["row"] for row in measured]
    if metric == "accuracy":
        axes.plot(x, [row[data]["accuracy"] for row in measured], marker="o", markersize=3,
                  color=colour, label=label)
        return
    mean = [row[data]["mean_confidence"] for row in measured]
    std = [row[data]["std_confidence"] for row in measured]
    axes.plot(x, mean, marker="o", markersize=3, color=colour, label=label)
    low = [m - s for m, s in zip(mean, std, strict=True)]
    high = [m + s for m, s in zip(mean, std, strict=True)]
    axes.fill_between(x, low, high, color=colour, alpha=0.18, linewidth=0)


def stability_svg(section: dict, prefix: str) -> str:
    """Accuracy, and mean ± std of the true-class confidence, against the n-th neuron.

    `section` is one class of the report's stability section (`rows`,
    `cumulative_rows`). Left column: each neuron masked alone; right column (when
    present): the first n neurons masked together. Clean and adversarial sets as two
    curves.
    """
    from matplotlib.ticker import MaxNLocator

    rows = section.get("rows") or []
    groups = [("masked alone", rows)]
    if section.get("cumulative_rows"):
        cumulative = section["cumulative_rows"]
        if rows and rows[0]["row"] == 0 and cumulative[0]["row"] != 0:
            cumulative = [rows[0], *cumulative]  # both curves start at "no masking"
        groups.append(("first n masked together", cumulative))
    figure = _figure(4.6)
    grid = figure.subplots(2, len(groups), squeeze=False, sharex="col")
    for column, (title, rows) in enumerate(groups):
        for line, metric in enumerate(("accuracy", "confidence")):
            axes = grid[line][column]
            _curve(axes, rows, "clean", metric, _PLAIN_COLOUR, "clean")
            _curve(axes, rows, "adversarial", metric, _ADVERSARIAL_COLOUR, "adversarial")
            axes.set_ylim(-0.02, 1.02)
            axes.xaxis.set_major_locator(MaxNLocator(integer=True))
            axes.grid(linewidth=0.3)
            axes.set_ylabel("accuracy" if metric == "accuracy" else "confidence (mean ± std)")
            if line == 0:
                axes.set_title(title, loc="left")
                axes.legend(loc="lower left", fontsize=7)
            else:
                axes.set_xlabel("n-th most critical neuron (0 = no masking)")
    return _svg(figure, prefix)
