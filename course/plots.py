"""Pictures of networks and of what they compute.

Every function draws on a matplotlib Axes (a new figure when ``ax`` is not given) and
returns what it drew on, so notebooks can add titles or save the figure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import matplotlib.patches as mpatches
import matplotlib.pyplot as plt
import networkx as nx
import numpy as np
from matplotlib.colors import ListedColormap

from course import activations

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from numpy.typing import ArrayLike

__all__ = [
    "draw_network",
    "plot_activations",
    "plot_timings",
    "show_digits",
    "plot_costs",
    "plot_decision_boundary",
    "draw_data_flow",
    "plot_contours",
    "draw_computation_graph",
]

_ACTIVATIONS = {
    "linear": (activations.linear, lambda z: np.ones_like(z)),
    "sigmoid": (activations.sigmoid, lambda z: activations.sigmoid_backward(np.ones_like(z), z)),
    "tanh": (activations.tanh, lambda z: activations.tanh_backward(np.ones_like(z), z)),
    "relu": (activations.relu, lambda z: activations.relu_backward(np.ones_like(z), z)),
    "leaky_relu": (
        lambda z: activations.leaky_relu(z, alpha=0.1),
        lambda z: activations.leaky_relu_backward(np.ones_like(z), z, alpha=0.1),
    ),
}


def _unit_label(layer, unit, n_layers, n_units):
    """Mathtext label of one node: x_i, a_j^[l] or y-hat (units counted from 1)."""
    if layer == 0:
        return rf"$x_{{{unit}}}$"
    if layer == n_layers - 1:
        return r"$\hat{y}$" if n_units == 1 else rf"$\hat{{y}}_{{{unit}}}$"
    return rf"$a^{{[{layer}]}}_{{{unit}}}$"


def _shown_units(n_units, max_units):
    """Units drawn for a layer of ``n_units``: all, or the first ones, a gap, and the last."""
    if n_units <= max_units:
        return list(range(1, n_units + 1))
    return list(range(1, max_units - 1)) + [None, n_units]


def _check_weights(weights, layer_sizes, convention):
    if convention not in ("row", "column"):
        raise ValueError(f"convention must be 'row' or 'column', got {convention!r}")
    if len(weights) != len(layer_sizes) - 1:
        raise ValueError(
            f"got {len(weights)} weight matrices for {len(layer_sizes)} layers; "
            f"pass one matrix per connection ({len(layer_sizes) - 1})"
        )
    mats = []
    for layer, W in enumerate(weights, start=1):
        W = np.asarray(W, dtype=float)
        n_prev, n = layer_sizes[layer - 1], layer_sizes[layer]
        expected = (n_prev, n) if convention == "row" else (n, n_prev)
        if W.shape != expected:
            raise ValueError(
                f"W{layer} has shape {W.shape}; with convention={convention!r} and layers "
                f"{n_prev} -> {n} it must be {expected}"
            )
        mats.append(W if convention == "row" else W.T)
    return mats


def draw_network(
    layer_sizes: Sequence[int],
    weights: Sequence[ArrayLike] | None = None,
    *,
    convention: str = "row",
    max_units: int = 8,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Draw a fully connected network as a layered graph.

    Nodes are labelled ``x_i`` (inputs), ``a_j^[l]`` (hidden units) and ``y-hat`` (output);
    each layer has a title. Layers wider than ``max_units`` are drawn with their first
    units, a gap marked by dots, and their last unit.

    Args:
        layer_sizes: units per layer, input first, e.g. ``[64, 25, 15, 1]``.
        weights: optional list of weight matrices, one per connection. Each edge is then
            drawn with width proportional to ``|w|`` and coloured by sign (red positive,
            blue negative).
        convention: ``"row"`` if ``weights[l]`` is (n[l-1], n[l]) as in week 1, or
            ``"column"`` if it is (n[l], n[l-1]) as in later weeks.
        max_units: most nodes drawn per layer (at least 3).
        ax: matplotlib Axes to draw on; a new figure when None.
        title: optional title of the plot.

    Returns:
        The matplotlib Axes. Its ``network_graph`` attribute holds the drawn networkx graph
        (node attributes ``layer``, ``unit`` and ``label``; edge attribute ``weight``).
    """
    sizes = list(layer_sizes)
    if len(sizes) < 2 or not all(isinstance(n, (int, np.integer)) and n >= 1 for n in sizes):
        raise ValueError(
            f"layer_sizes must list at least two positive integers (input and output), "
            f"got {layer_sizes!r}"
        )
    if max_units < 3:
        raise ValueError(f"max_units must be at least 3, got {max_units!r}")
    mats = None if weights is None else _check_weights(weights, sizes, convention)

    graph = nx.Graph()
    n_layers = len(sizes)
    for layer, n_units in enumerate(sizes):
        for unit in _shown_units(n_units, max_units):
            label = r"$\vdots$" if unit is None else _unit_label(layer, unit, n_layers, n_units)
            graph.add_node((layer, unit), layer=layer, unit=unit, label=label)
    for layer in range(1, n_layers):
        for u_prev in _shown_units(sizes[layer - 1], max_units):
            for u in _shown_units(sizes[layer], max_units):
                if u_prev is None or u is None:
                    continue
                w = None if mats is None else float(mats[layer - 1][u_prev - 1, u - 1])
                graph.add_edge((layer - 1, u_prev), (layer, u), weight=w)

    # Layered layout: one column per layer, first unit on top.
    pos = {}
    for layer, n_units in enumerate(sizes):
        shown = _shown_units(n_units, max_units)
        for i, unit in enumerate(shown):
            pos[(layer, unit)] = (float(layer), (len(shown) - 1) / 2 - i)

    if ax is None:
        _, ax = plt.subplots(figsize=(2.2 * n_layers + 1, 0.55 * min(max(sizes), max_units) + 2))
    edges = list(graph.edges(data="weight"))
    if mats is None:
        widths, colors = 0.8, "0.6"
    else:
        scale = max(max(abs(w) for _, _, w in edges), 1e-12)
        widths = [0.3 + 3.0 * abs(w) / scale for _, _, w in edges]
        colors = [plt.cm.coolwarm(0.5 + 0.5 * w / scale) for _, _, w in edges]
    nx.draw_networkx_edges(
        graph, pos, edgelist=[(u, v) for u, v, _ in edges], width=widths, edge_color=colors, ax=ax
    )
    units = [n for n, unit in graph.nodes(data="unit") if unit is not None]
    nx.draw_networkx_nodes(
        graph, pos, nodelist=units, node_color="white", edgecolors="0.2", node_size=650, ax=ax
    )
    nx.draw_networkx_labels(graph, pos, labels=dict(graph.nodes(data="label")), font_size=10, ax=ax)

    top = max(y for _, y in pos.values())
    for layer, n_units in enumerate(sizes):
        if layer == 0:
            name = "input layer"
        elif layer == n_layers - 1:
            name = f"output layer [{layer}]"
        else:
            name = f"hidden layer [{layer}]"
        ax.text(
            layer,
            top + 0.9,
            f"{name}\n{n_units} unit{'s' if n_units > 1 else ''}",
            ha="center",
            va="bottom",
            fontsize=9,
        )
    ax.set_xlim(-0.6, n_layers - 0.4)
    ax.set_ylim(-top - 0.8, top + 1.9)
    ax.axis("off")
    if title:
        ax.set_title(title)
    ax.network_graph = graph
    return ax


def plot_activations(
    names: Iterable[str] = ("sigmoid", "tanh", "relu", "leaky_relu"),
    *,
    derivatives: bool = False,
    z: ArrayLike | None = None,
    axes: Sequence[Axes] | None = None,
) -> list[Axes]:
    """Plot activation functions side by side, optionally with their derivatives.

    Args:
        names: activation names, each one of ``linear``, ``sigmoid``, ``tanh``, ``relu``,
            ``leaky_relu`` (drawn with slope 0.1 so the leak is visible).
        derivatives: also draw ``g'(z)`` as a dashed line.
        z: 1-D array of inputs to plot over; ``linspace(-5, 5, 401)`` when None.
        axes: sequence of Axes, one per name; a new figure when None.

    Returns:
        List of the Axes, one per activation, each with a legend.
    """
    names = list(names)
    unknown = [n for n in names if n not in _ACTIVATIONS]
    if unknown or not names:
        raise ValueError(f"unknown activation(s) {unknown}; choose from {sorted(_ACTIVATIONS)}")
    z = np.linspace(-5, 5, 401) if z is None else np.asarray(z, dtype=float)
    if z.ndim != 1:
        raise ValueError(f"z must be 1-D, got shape {z.shape}")
    if axes is None:
        _, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3), squeeze=False)
        axes = list(axes[0])
    elif len(axes) != len(names):
        raise ValueError(f"got {len(axes)} axes for {len(names)} activations")
    for ax, name in zip(axes, names):
        g, dg = _ACTIVATIONS[name]
        ax.plot(z, g(z), label=f"{name}(z)")
        if derivatives:
            ax.plot(z, dg(z), "--", label=f"{name}'(z)")
        ax.axhline(0, color="0.8", lw=0.8, zorder=0)
        ax.axvline(0, color="0.8", lw=0.8, zorder=0)
        ax.set_title(name)
        ax.set_xlabel("z")
        ax.legend(fontsize=8, loc="upper left")
    return list(axes)


def plot_timings(
    sizes: ArrayLike,
    timings: Mapping[str, ArrayLike],
    *,
    ax: Axes | None = None,
    xlabel: str = "number of examples m",
) -> Axes:
    """Plot run time against problem size on log-log axes, one line per method.

    Args:
        sizes: 1-D sequence of problem sizes.
        timings: dict mapping a method's name to a sequence of seconds, one per size.
        ax: Axes to draw on; a new figure when None.
        xlabel: label of the x axis.

    Returns:
        The matplotlib Axes.
    """
    sizes = np.asarray(sizes, dtype=float)
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    for name, seconds in timings.items():
        seconds = np.asarray(seconds, dtype=float)
        if seconds.shape != sizes.shape:
            raise ValueError(f"{name!r} has {seconds.size} timings for {sizes.size} sizes")
        ax.loglog(sizes, seconds, "o-", label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("seconds")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    return ax


def show_digits(
    images: ArrayLike,
    labels: ArrayLike | None = None,
    predictions: ArrayLike | None = None,
    *,
    n_cols: int = 8,
    image_shape: tuple[int, int] = (8, 8),
    convention: str = "row",
    signed: bool = False,
    ax: Axes | None = None,
) -> Axes:
    """Show images as one tiled picture, each captioned with its label and prediction.

    The tiles are drawn as a single image (fast even for many tiles); a caption whose
    prediction differs from the label is red. With ``signed=True`` the values are drawn on a
    colour scale centred on 0 (red positive, blue negative, white 0) with a colour bar: the
    way to look at a weight vector as an image.

    Args:
        images: with ``convention="row"``, an array of shape (k, h*w) or (k, h, w), one image
            per row (week 1); with ``convention="column"``, an array of shape (h*w, k), one
            flattened image per column, like ``X`` from week 2 on (a weight vector ``w`` of
            shape (h*w, 1) is one image).
        labels: optional k labels: a sequence, or an array of shape (k,) or (1, k).
        predictions: optional k predicted labels, in the same forms as ``labels``.
        n_cols: most tiles per row (fewer when there are fewer images).
        image_shape: (h, w) used to reshape flattened images.
        convention: ``"row"`` or ``"column"``, as above.
        signed: draw on a symmetric red-white-blue scale with a colour bar, for values of
            both signs (weights); otherwise grey levels, darker for larger values.
        ax: Axes to draw on; a new figure when None.

    Returns:
        The matplotlib Axes; its image is the tiled picture and its texts are the captions,
        in image order.
    """
    if convention not in ("row", "column"):
        raise ValueError(f"convention must be 'row' or 'column', got {convention!r}")
    if isinstance(n_cols, bool) or not isinstance(n_cols, (int, np.integer)) or n_cols < 1:
        raise ValueError(f"n_cols must be a positive integer, got {n_cols!r}")
    h, w = image_shape
    images = np.asarray(images, dtype=float)
    if convention == "column":
        if images.ndim != 2 or images.shape[0] != h * w:
            raise ValueError(
                f"with convention='column', images must have shape ({h * w}, k), one image per "
                f"column, got shape {images.shape}"
            )
        images = images.T
    elif images.size % (h * w):
        raise ValueError(
            f"images of shape {images.shape} cannot be cut into {h}x{w} images; "
            "with one image per column, pass convention='column'"
        )
    images = images.reshape(-1, h, w)
    k = len(images)
    labels, predictions = (None if v is None else np.ravel(v) for v in (labels, predictions))
    for name, values in (("labels", labels), ("predictions", predictions)):
        if values is not None and len(values) != k:
            raise ValueError(f"got {len(values)} {name} for {k} images")
    if k == 0:
        raise ValueError("no images to show")
    n_cols = min(n_cols, k)
    n_rows = -(-k // n_cols)
    gap = 1
    mosaic = np.full((n_rows * (h + gap) - gap, n_cols * (w + gap) - gap), np.nan)
    for i, image in enumerate(images):
        r, c = divmod(i, n_cols)
        mosaic[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = image
    if ax is None:
        scale = max(1.0, 3.0 / (1.1 * n_cols))  # a few tiles are drawn larger
        _, ax = plt.subplots(figsize=(1.1 * n_cols * scale, 1.35 * n_rows * scale))
    if signed:
        top = float(np.max(np.abs(images))) or 1.0
        picture = ax.imshow(
            np.ma.masked_invalid(mosaic),
            cmap="RdBu_r",
            vmin=-top,
            vmax=top,
            interpolation="nearest",
        )
        ax.figure.colorbar(picture, ax=ax, fraction=0.046, pad=0.04)
    else:
        ax.imshow(np.ma.masked_invalid(mosaic), cmap="gray_r", interpolation="nearest")
    for i in range(k):
        r, c = divmod(i, n_cols)
        parts = []
        if labels is not None:
            parts.append(f"label {_caption_value(labels[i])}")
        if predictions is not None:
            parts.append(f"pred {_caption_value(predictions[i])}")
        wrong = labels is not None and predictions is not None and labels[i] != predictions[i]
        ax.text(
            c * (w + gap) + w / 2 - 0.5,
            r * (h + gap) - 0.7,
            "  ".join(parts),
            ha="center",
            va="bottom",
            fontsize=7,
            color="red" if wrong else "black",
        )
    ax.axis("off")
    return ax


def _caption_value(value):
    """A label as a caption shows it: 1.0 (a float label in the column convention) as 1."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


# Class 0 red, class 1 blue: points in full colour, the regions they fall in in light tints.
_CLASS_COLOURS = ("#d62728", "#1f77b4")
_REGION_COLOURS = ("#f6c9c9", "#c6dcef")


def plot_decision_boundary(
    predict_fn: Callable[[np.ndarray], ArrayLike],
    X: ArrayLike,
    Y: ArrayLike,
    ax: Axes | None = None,
    *,
    resolution: int = 200,
) -> Axes:
    """Colour the plane by a binary classifier's prediction, and show the labelled points.

    The classifier is evaluated on a ``resolution`` x ``resolution`` grid that covers the
    points with a margin; the grid's classes are drawn as an image (light red for 0, light
    blue for 1) with a black line where the prediction changes, and the points on top
    (red for label 0, blue for label 1). Column convention throughout.

    Args:
        predict_fn: function mapping a (2, k) array of points, one per column, to a (1, k)
            array of 0/1 (or False/True) predictions.
        X: the points, shape (2, m).
        Y: their labels, shape (1, m), each 0 or 1.
        ax: matplotlib Axes to draw on; a new figure when None.
        resolution: grid points per axis, at least 2.

    Returns:
        The matplotlib Axes. Its first image holds the grid's predicted classes (use its
        extent to map a point of the plane to a pixel); its scatter holds the m points.
    """
    X = np.asarray(X, dtype=float)
    Y = np.asarray(Y)
    if X.ndim != 2 or X.shape[0] != 2:
        raise ValueError(
            f"X must have shape (2, m), one point per column, got shape {X.shape}"
            + (" (transposed? try X.T)" if X.ndim == 2 and X.shape[1] == 2 else "")
        )
    if Y.shape != (1, X.shape[1]):
        raise ValueError(f"Y must have shape (1, {X.shape[1]}) to match X, got shape {Y.shape}")
    if not np.isin(Y, (0, 1)).all():
        raise ValueError(f"Y must hold only 0 and 1, got values {np.unique(Y)[:5]}")
    if resolution < 2:
        raise ValueError(f"resolution must be at least 2, got {resolution!r}")

    pad = 0.1 * np.ptp(X, axis=1) + 0.25
    low, high = X.min(axis=1) - pad, X.max(axis=1) + pad
    xx, yy = np.meshgrid(
        np.linspace(low[0], high[0], resolution), np.linspace(low[1], high[1], resolution)
    )
    grid = np.vstack([xx.ravel(), yy.ravel()])
    classes = np.asarray(predict_fn(grid))
    if classes.shape != (1, grid.shape[1]):
        raise ValueError(
            f"predict_fn must map a (2, k) array to a (1, k) array; for k = {grid.shape[1]} it "
            f"returned shape {classes.shape}"
        )
    if not np.isin(classes, (0, 1)).all():
        raise ValueError("predict_fn must return only 0 and 1 (or False and True)")
    classes = classes.astype(int).reshape(resolution, resolution)

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4.5))
    ax.imshow(
        classes,
        origin="lower",
        extent=(low[0], high[0], low[1], high[1]),
        cmap=ListedColormap(_REGION_COLOURS),
        vmin=0,
        vmax=1,
        interpolation="nearest",
        aspect="auto",
    )
    if 0 < classes.mean() < 1:  # a boundary exists only when both classes are predicted
        ax.contour(xx, yy, classes, levels=[0.5], colors="k", linewidths=0.8)
    ax.scatter(
        X[0],
        X[1],
        c=[_CLASS_COLOURS[label] for label in Y[0].astype(int)],
        s=14,
        edgecolors="white",
        linewidths=0.3,
    )
    ax.set_xlim(low[0], high[0])
    ax.set_ylim(low[1], high[1])
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    return ax


def plot_costs(
    costs: ArrayLike | dict[str, ArrayLike],
    *,
    every: int = 100,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Plot the cost recorded during training against the iteration, one line per run.

    Args:
        costs: the costs of one run, recorded at iterations 0, ``every``, ``2 * every``, ...
            (a sequence of numbers); or a dict mapping each run's label (e.g.
            ``"learning rate 0.01"``) to such a sequence, to compare runs on one plot.
        every: the recording interval, a positive integer: iterations between two recorded
            costs.
        ax: Axes to draw on; a new figure when None.
        title: optional title of the plot.

    Returns:
        The matplotlib Axes: one line per run, x in iterations, y the cost, and a legend
        when the runs are labelled.
    """
    if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
        raise ValueError(f"every must be a positive integer (iterations per record), got {every!r}")
    runs = costs if isinstance(costs, dict) else {None: costs}
    if not runs:
        raise ValueError("no runs to plot: costs is an empty dict")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    for label, run in runs.items():
        run = np.asarray(run, dtype=float)
        if run.ndim != 1 or run.size == 0:
            name = "costs" if label is None else f"the costs of {label!r}"
            raise ValueError(f"{name} must be a non-empty 1-D sequence, got shape {run.shape}")
        ax.plot(np.arange(run.size) * every, run, ".-", label=label)
    ax.set_xlabel("iteration")
    ax.set_ylabel("cost")
    ax.grid(True, alpha=0.3)
    if None not in runs:
        ax.legend()
    if title:
        ax.set_title(title)
    return ax


_BOX_WIDTH, _BOX_HEIGHT = 1.9, 0.95  # data units of the boxes of draw_data_flow
_FLOW_COLOURS = {"forward": "#dbe9f6", "backward": "#fbe3d6", "cost": "#e6e6e6"}
_FLOW_STYLES = {  # edge kind -> (line style, colour)
    "forward": ("-", "#1f4e79"),
    "parameter": ("-", "0.45"),
    "cache": ("--", "0.45"),
    "backward": ("-", "#a33a0b"),
    "gradient": ("-", "0.45"),
    "label": ("-", "0.45"),
}


def draw_data_flow(
    n_layers: int = 3,
    *,
    hidden: str = "relu",
    output: str = "sigmoid",
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Draw the forward and the backward pass of an L-layer network as boxes and arrows.

    The top row is the forward pass: ``X = A^[0]`` enters layer 1 (a box "LINEAR -> RELU"),
    whose output ``A^[1]`` enters layer 2, and so on to ``A^[L] = Y-hat``, which goes with the
    labels ``Y`` into the cost. The bottom row is the backward pass, right to left: the cost
    sends ``dA^[L]`` to layer L's backward box ("LINEAR' <- SIGMOID'"), which sends
    ``dA^[L-1]`` to layer L-1's, down to ``dA^[0]``. Each forward box takes its parameters
    ``W^[l], b^[l]`` from above and hands its cache down (dashed) to its backward box, which
    gives out ``dW^[l], db^[l]``.

    Args:
        n_layers: the number of layers L with parameters (hidden layers plus the output
            layer), a positive integer.
        hidden: the name of the hidden layers' activation, as shown in the boxes.
        output: the name of the output layer's activation.
        ax: matplotlib Axes to draw on; a new figure when None.
        title: optional title of the plot.

    Returns:
        The matplotlib Axes. Its ``flow_graph`` attribute holds the drawn networkx DiGraph:
        nodes ``"X"``, ``"Y"``, ``"cost"``, ``"dA0"``, ``("forward", l)``,
        ``("backward", l)``, ``("parameters", l)`` and ``("gradients", l)`` for l = 1..L,
        each with its ``label``; edges with ``kind`` (``forward``, ``parameter``, ``cache``,
        ``backward``, ``gradient`` or ``label``) and ``label`` (the array that travels).
    """
    if isinstance(n_layers, bool) or not isinstance(n_layers, (int, np.integer)) or n_layers < 1:
        raise ValueError(f"n_layers must be a positive integer, got {n_layers!r}")
    for name, value in (("hidden", hidden), ("output", output)):
        if not isinstance(value, str) or not value:
            raise ValueError(f"{name} must be an activation's name, got {value!r}")
    L = int(n_layers)
    step, top, bottom = 2.7, 1.6, -1.6

    def activation(layer):
        return (output if layer == L else hidden).upper()

    graph = nx.DiGraph()
    graph.add_node("X", label="input $X$", pos=(0.0, top), box=None)
    graph.add_node("dA0", label="(unused)", pos=(0.0, bottom), box=None)
    graph.add_node("cost", label="cost $J$", pos=(step * (L + 1), 0.0), box="cost")
    graph.add_node("Y", label="$Y$", pos=(step * (L + 1), top + 0.2), box=None)
    for layer in range(1, L + 1):
        x, act = step * layer, activation(layer)
        graph.add_node(
            ("forward", layer), label=f"layer {layer}\nLINEAR → {act}", pos=(x, top), box="forward"
        )
        graph.add_node(
            ("backward", layer),
            label=f"layer {layer} backward\nLINEAR' ← {act}'",
            pos=(x, bottom),
            box="backward",
        )
        graph.add_node(
            ("parameters", layer),
            label=f"$W^{{[{layer}]}}, b^{{[{layer}]}}$",
            pos=(x, top + 1.35),
            box=None,
        )
        graph.add_node(
            ("gradients", layer),
            label=f"$dW^{{[{layer}]}}, db^{{[{layer}]}}$",
            pos=(x, bottom - 1.35),
            box=None,
        )

    def a(layer):
        return rf"$A^{{[{layer}]}}$"

    def da(layer):
        return rf"$dA^{{[{layer}]}}$"

    graph.add_edge("X", ("forward", 1), kind="forward", label=a(0))
    for layer in range(1, L + 1):
        if layer < L:
            graph.add_edge(
                ("forward", layer), ("forward", layer + 1), kind="forward", label=a(layer)
            )
        graph.add_edge(("parameters", layer), ("forward", layer), kind="parameter", label="")
        graph.add_edge(
            ("forward", layer), ("backward", layer), kind="cache", label=f"cache$^{{[{layer}]}}$"
        )
        graph.add_edge(("backward", layer), ("gradients", layer), kind="gradient", label="")
        if layer > 1:
            graph.add_edge(
                ("backward", layer), ("backward", layer - 1), kind="backward", label=da(layer - 1)
            )
    graph.add_edge(("forward", L), "cost", kind="forward", label=rf"$A^{{[{L}]}} = \hat{{Y}}$")
    graph.add_edge("Y", "cost", kind="label", label="")
    graph.add_edge("cost", ("backward", L), kind="backward", label=da(L))
    graph.add_edge(("backward", 1), "dA0", kind="backward", label=da(0))

    if ax is None:
        _, ax = plt.subplots(figsize=(2.3 * (L + 2) + 1, 5.6))
    half = {"box": (_BOX_WIDTH / 2, _BOX_HEIGHT / 2), None: (0.45, 0.2)}
    for _, data in graph.nodes(data=True):
        x, y = data["pos"]
        if data["box"]:
            ax.add_patch(
                mpatches.FancyBboxPatch(
                    (x - _BOX_WIDTH / 2, y - _BOX_HEIGHT / 2),
                    _BOX_WIDTH,
                    _BOX_HEIGHT,
                    boxstyle="round,pad=0.02,rounding_size=0.12",
                    facecolor=_FLOW_COLOURS[data["box"]],
                    edgecolor="0.3",
                )
            )
        ax.text(x, y, data["label"], ha="center", va="center", fontsize=9)

    def border(node, towards):
        """Where the segment from ``node``'s centre towards ``towards`` leaves its outline."""
        (x, y), (tx, ty) = graph.nodes[node]["pos"], towards
        hw, hh = half["box" if graph.nodes[node]["box"] else None]
        dx, dy = tx - x, ty - y
        scale = min(hw / abs(dx) if dx else np.inf, hh / abs(dy) if dy else np.inf)
        return x + dx * scale, y + dy * scale

    for u, v, data in graph.edges(data=True):
        start = border(u, graph.nodes[v]["pos"])
        end = border(v, graph.nodes[u]["pos"])
        style, colour = _FLOW_STYLES[data["kind"]]
        ax.annotate(
            "",
            xy=end,
            xytext=start,
            arrowprops={"arrowstyle": "-|>", "linestyle": style, "color": colour, "lw": 1.3},
        )
        if data["label"]:
            (x0, y0), (x1, y1) = start, end
            horizontal = abs(y1 - y0) < 1e-9
            # labels above the forward arrows, below the backward ones, right of the others
            dx, dy = (0.0, {"forward": 0.18, "backward": -0.22}.get(data["kind"], 0.0))
            if not horizontal:
                dx, dy = 0.12, 0.0
            ax.text(
                (x0 + x1) / 2 + dx,
                (y0 + y1) / 2 + dy,
                data["label"],
                ha="center" if horizontal else "left",
                va="center",
                fontsize=9,
                color=colour,
            )

    ax.text(-0.9, top + 0.75, "forward propagation", fontsize=10, fontweight="bold", ha="left")
    ax.text(-0.9, bottom - 0.75, "backward propagation", fontsize=10, fontweight="bold", ha="left")
    ax.text(
        -0.9,
        bottom - 2.3,
        r"cache$^{[l]} = ((A^{[l-1]}, W^{[l]}, b^{[l]}), Z^{[l]})$: what layer l's "
        r"backward step needs;   $dA^{[L]} = -\left(\frac{Y}{A^{[L]}} - "
        r"\frac{1 - Y}{1 - A^{[L]}}\right)$",
        fontsize=9,
        ha="left",
        va="center",
    )
    ax.set_xlim(-1.0, step * (L + 1) + 1.2)
    ax.set_ylim(bottom - 2.6, top + 1.8)
    ax.axis("off")
    if title:
        ax.set_title(title)
    ax.flow_graph = graph
    return ax


def plot_contours(
    f: Callable[[float, float], float],
    x_range: tuple[float, float],
    y_range: tuple[float, float],
    *,
    paths: dict[str, ArrayLike] | None = None,
    levels: int | Sequence[float] = 10,
    resolution: int = 60,
    ax: Axes | None = None,
    xlabel: str = "$w_1$",
    ylabel: str = "$w_2$",
    title: str | None = None,
) -> Axes:
    """Draw the contour lines of a function of two numbers, and paths walked across them.

    Made to show a cost as a map over two parameters, with the steps gradient descent
    takes: ``f`` is evaluated on a ``resolution`` x ``resolution`` grid, and each path is
    drawn as a line through its points, with a star on its last point.

    Args:
        f: function of two floats ``(x, y)`` returning a number (e.g. the cost at
            ``w1 = x, w2 = y``).
        x_range: ``(low, high)`` of the horizontal axis, ``low < high``.
        y_range: ``(low, high)`` of the vertical axis, ``low < high``.
        paths: optional dict mapping a label to the points of one path, an array of shape
            (k, 2) with one ``(x, y)`` point per row, in the order they were visited.
        levels: the number of contour lines, or the increasing values to draw them at.
        resolution: grid points per axis, at least 2.
        ax: Axes to draw on; a new figure when None.
        xlabel, ylabel: axis labels.
        title: optional title of the plot.

    Returns:
        The matplotlib Axes. Its ``contour_set`` attribute holds the drawn contours; its
        lines are the paths, in the order given, each followed by its end marker.
    """
    ranges = []
    for name, bounds in (("x_range", x_range), ("y_range", y_range)):
        bounds = tuple(np.asarray(bounds, dtype=float).ravel())
        if len(bounds) != 2 or not np.all(np.isfinite(bounds)) or not bounds[0] < bounds[1]:
            raise ValueError(f"{name} must be (low, high) with low < high, got {bounds!r}")
        ranges.append(bounds)
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)):
        raise ValueError(f"resolution must be an integer of at least 2, got {resolution!r}")
    if resolution < 2:
        raise ValueError(f"resolution must be an integer of at least 2, got {resolution!r}")
    checked = {}
    for label, points in (paths or {}).items():
        points = np.asarray(points, dtype=float)
        if points.ndim != 2 or points.shape[1] != 2 or len(points) == 0:
            raise ValueError(
                f"the path {label!r} must have shape (k, 2), one (x, y) point per row, "
                f"got shape {points.shape}"
            )
        checked[label] = points

    xs = np.linspace(*ranges[0], resolution)
    ys = np.linspace(*ranges[1], resolution)
    values = np.array([[float(f(x, y)) for x in xs] for y in ys])
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4.5))
    ax.contour_set = ax.contour(xs, ys, values, levels=levels, cmap="viridis", linewidths=0.9)
    handles = []
    for label, points in checked.items():
        (line,) = ax.plot(points[:, 0], points[:, 1], ".-", ms=3, lw=1, label=label)
        ax.plot(points[-1, 0], points[-1, 1], "*", ms=12, color=line.get_color())
        handles.append(line)
    ax.set_xlim(*ranges[0])
    ax.set_ylim(*ranges[1])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if handles:
        ax.legend(handles=handles, fontsize=8)
    if title:
        ax.set_title(title)
    return ax


# The computation graph of logistic regression on one example: node -> (definition, position),
# and each edge with the local derivative the chain rule multiplies along it.
_GRAPH_NODES = {
    "w": ("", (0.0, 2.0)),
    "x": ("", (0.0, 0.0)),
    "b": ("", (0.0, -2.0)),
    "z": (r"$z = w^T x + b$", (3.0, 0.0)),
    "a": (r"$a = \sigma(z)$", (6.0, 0.0)),
    "y": ("", (6.0, -2.0)),
    "L": (r"$L = -(y \log a + (1 - y) \log(1 - a))$", (9.0, 0.0)),
}
_GRAPH_EDGES = {
    ("w", "z"): r"$\partial z / \partial w = x$",
    ("x", "z"): "",
    ("b", "z"): r"$\partial z / \partial b = 1$",
    ("z", "a"): r"$\partial a / \partial z = a(1 - a)$",
    ("a", "L"): r"$\partial L / \partial a = -\frac{y}{a} + \frac{1 - y}{1 - a}$",
    ("y", "L"): "",
}


def _graph_number(value):
    """A number or a small array as text: ``0.25`` or ``(0.5, -1)``."""
    flat = np.asarray(value, dtype=float).ravel()
    if flat.size == 1:
        return f"{flat[0]:.4g}"
    return "(" + ", ".join(f"{v:.3g}" for v in flat) + ")"


def _graph_entries(entries, what):
    entries = dict(entries or {})
    unknown = set(entries) - set(_GRAPH_NODES)
    if unknown:
        raise ValueError(
            f"{what} has entries for {sorted(unknown)}, which are not nodes of the graph; "
            f"use the nodes {list(_GRAPH_NODES)}"
        )
    for name, value in entries.items():
        try:
            array = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            raise ValueError(f"{what}[{name!r}] must be a number or an array of numbers") from None
        if array.size == 0 or array.size > 4:
            raise ValueError(
                f"{what}[{name!r}] has {array.size} numbers; the graph shows one example with "
                "1 to 4 features"
            )
        entries[name] = array
    return entries


def draw_computation_graph(
    values: Mapping[str, ArrayLike] | None = None,
    derivatives: Mapping[str, ArrayLike] | None = None,
    *,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Draw the computation graph of logistic regression on one example.

    The nodes are the inputs ``w``, ``x``, ``b`` (and the label ``y``), then
    ``z = w^T x + b``, ``a = sigma(z)`` and the loss ``L(a, y)``; every arrow goes from a
    quantity to one computed from it and carries the local derivative the chain rule
    multiplies along it. The forward value of a node is written under it (black), the
    derivative of the loss with respect to it above it (red).

    Args:
        values: optional forward values by node name (``"w"``, ``"x"``, ``"b"``, ``"y"``,
            ``"z"``, ``"a"``, ``"L"``): numbers, or arrays of 1 to 4 numbers for ``w`` and
            ``x``.
        derivatives: optional derivatives of ``L`` by node name, e.g. ``{"a": dL/da,
            "z": dL/dz, "w": dL/dw, "b": dL/db, "L": 1.0}``.
        ax: matplotlib Axes to draw on; a new figure when None.
        title: optional title of the plot.

    Returns:
        The matplotlib Axes. Its ``computation_graph`` attribute holds the drawn networkx
        DiGraph: nodes named as above with attributes ``label`` (the node's definition,
        "" for the inputs), ``value`` and ``derivative`` (float arrays, or None when not
        given); edges with ``local`` (the local derivative's formula, "" for the inputs
        nobody differentiates by).
    """
    values = _graph_entries(values, "values")
    derivatives = _graph_entries(derivatives, "derivatives")
    graph = nx.DiGraph()
    for name, (label, pos) in _GRAPH_NODES.items():
        graph.add_node(
            name, label=label, pos=pos, value=values.get(name), derivative=derivatives.get(name)
        )
    for (u, v), local in _GRAPH_EDGES.items():
        graph.add_edge(u, v, local=local)

    if ax is None:
        _, ax = plt.subplots(figsize=(12, 5.2))
    pos = dict(graph.nodes(data="pos"))
    nx.draw_networkx_edges(
        graph,
        pos,
        ax=ax,
        arrows=True,
        arrowstyle="-|>",
        arrowsize=14,
        node_size=900,
        edge_color="0.35",
    )
    nx.draw_networkx_nodes(graph, pos, ax=ax, node_size=900, node_color="white", edgecolors="0.2")
    nx.draw_networkx_labels(graph, pos, labels={n: f"${n}$" for n in graph}, ax=ax, font_size=12)
    for (u, v), local in nx.get_edge_attributes(graph, "local").items():
        if local:
            (x0, y0), (x1, y1) = pos[u], pos[v]
            ax.text(
                (x0 + x1) / 2, (y0 + y1) / 2 + 0.15, local, ha="center", va="bottom", fontsize=9
            )
    for name, data in graph.nodes(data=True):
        x, y = data["pos"]
        if data["value"] is not None:
            ax.text(x, y - 0.42, f"= {_graph_number(data['value'])}", ha="center", va="top")
        if data["label"]:
            ax.text(x, y + 0.9, data["label"], ha="center", va="bottom", fontsize=9, color="0.4")
        if data["derivative"] is not None:
            ax.text(
                x,
                y + 0.42,
                rf"$\partial L/\partial {name}$ = {_graph_number(data['derivative'])}",
                ha="center",
                va="bottom",
                fontsize=10,
                color="tab:red",
            )
    ax.text(
        -0.8,
        -3.3,
        "black: forward values, computed left to right;  red: derivatives of the loss, computed "
        "right to left,\neach the red number of the node after it times the local derivative "
        "written on the arrow between them",
        fontsize=9,
        ha="left",
        va="center",
    )
    ax.set_xlim(-1.2, 10.6)
    ax.set_ylim(-3.7, 3.0)
    ax.axis("off")
    if title:
        ax.set_title(title)
    ax.computation_graph = graph
    return ax
