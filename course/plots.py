"""Pictures of networks and of what they compute.

Every function draws on a matplotlib Axes (a new figure when ``ax`` is not given) and
returns what it drew on, so notebooks can add titles or save the figure.
"""

import matplotlib.pyplot as plt
import networkx as nx
import numpy as np

from course import activations

__all__ = ["draw_network", "plot_activations", "plot_timings", "show_digits"]

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
    layer_sizes,
    weights=None,
    *,
    convention="row",
    max_units=8,
    ax=None,
    title=None,
):
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
    names=("sigmoid", "tanh", "relu", "leaky_relu"), *, derivatives=False, z=None, axes=None
):
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


def plot_timings(sizes, timings, *, ax=None, xlabel="number of examples m"):
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


def show_digits(images, labels=None, predictions=None, *, n_cols=8, image_shape=(8, 8), ax=None):
    """Show images as one tiled picture, each captioned with its label and prediction.

    The tiles are drawn as a single image (fast even for many tiles); a caption whose
    prediction differs from the label is red.

    Args:
        images: array of shape (k, h*w) or (k, h, w).
        labels: optional sequence of k labels.
        predictions: optional sequence of k predicted labels.
        n_cols: tiles per row.
        image_shape: (h, w) used to reshape flattened images.
        ax: Axes to draw on; a new figure when None.

    Returns:
        The matplotlib Axes; its texts are the captions, in image order.
    """
    images = np.asarray(images, dtype=float).reshape(-1, *image_shape)
    k = len(images)
    for name, values in (("labels", labels), ("predictions", predictions)):
        if values is not None and len(values) != k:
            raise ValueError(f"got {len(values)} {name} for {k} images")
    if k == 0:
        raise ValueError("no images to show")
    h, w = image_shape
    n_rows = -(-k // n_cols)
    gap = 1
    mosaic = np.full((n_rows * (h + gap) - gap, n_cols * (w + gap) - gap), np.nan)
    for i, image in enumerate(images):
        r, c = divmod(i, n_cols)
        mosaic[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = image
    if ax is None:
        _, ax = plt.subplots(figsize=(1.1 * n_cols, 1.35 * n_rows))
    ax.imshow(np.ma.masked_invalid(mosaic), cmap="gray_r", interpolation="nearest")
    for i in range(k):
        r, c = divmod(i, n_cols)
        parts = []
        if labels is not None:
            parts.append(f"label {labels[i]}")
        if predictions is not None:
            parts.append(f"pred {predictions[i]}")
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
