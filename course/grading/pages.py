"""Self-contained HTML pages for feedback and reports, rendered from ``templates/``.

One Jinja2 environment renders every page. It escapes every value it writes (autoescape)
and, before that, shows it as text: terminal colour codes dropped, other control
characters written as their escapes. A template cannot forget either: both apply to every
``{{ value }}``; only HTML the templates themselves made (a macro's) is written as it is.
What came from a notebook is shown as text or as an image: a student's HTML or JavaScript
output is shown as its plain-text version, never run (:func:`outputs`). A text is shown up
to a size (the ``clip`` filter), with a note where it was cut.
"""

import re
from typing import Any

import jinja2
from markupsafe import Markup

from course.grading.untrusted import printable

__all__ = ["render", "macros", "outputs", "clip", "SHOWN_CHARS"]

SHOWN_CHARS = 50_000  # the most a page shows of one text (a cell's code, an output, ...)
_SHOWN_IMAGE_CHARS = 2_000_000  # the most a page shows of one figure (base64 text)

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_IMAGES = ("image/png", "image/jpeg")


def _shown(value):
    """``value`` as a page shows it (before HTML escaping): text without terminal colour
    codes, other control characters written as their escapes (:func:`printable`, line
    breaks and tabs kept)."""
    return printable(_ANSI.sub("", str(value)), lines=True)


def clip(text: str, limit: int = SHOWN_CHARS) -> str:
    """``text`` (a string) cut to ``limit`` characters, with a note saying so when cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n[cut: {len(text) - limit} more characters are not shown]"


def _finalize(value):
    # every {{ value }} but a macro's HTML; autoescape then escapes what this returns
    return value if isinstance(value, Markup) else _shown(value)


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("course.grading", "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,
    finalize=_finalize,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def _points(number):
    """Points as a page writes them: ``3``, ``0.5``, ``2.25``."""
    return format(float(number), "g")  # float(): a missing value says so, as undefined


_ENV.filters["clip"] = clip
_ENV.filters["points"] = _points


def render(template: str, **data: Any) -> str:
    """The page ``template`` (a file of ``templates/``) shows for ``data``, as a string."""
    return _ENV.get_template(template).render(**data)


def macros(template: str) -> Any:
    """The macros of ``template`` (a file of ``templates/`` holding only macros), to call
    from Python: each returns its HTML, which a page's template writes as it is."""
    return _ENV.get_template(template).module


def _text(value):
    """An nbformat multi-line string (a string, or a list of lines) as one string."""
    return "".join(value) if isinstance(value, list) else str(value)


def outputs(cell_outputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What a page shows of a code cell's nbformat outputs, for ``macros.html``'s ``outputs``.

    Returns:
        A list of dicts, one per output shown, by ``kind``: ``"text"`` (``text``: a stream,
        or the plain-text version of a display: never its HTML or JavaScript), ``"error"``
        (``text``: type and message only, as a traceback may quote test code), ``"image"``
        (``mime`` and base64 ``data`` of a PNG or JPEG) or ``"cut"`` (``mb``: the size of a
        figure too large to show). Texts are whole: the template clips them.
    """
    items = []
    for out in cell_outputs:
        kind = out.get("output_type")
        if kind == "stream":
            items.append({"kind": "text", "text": _text(out.get("text", ""))})
        elif kind == "error":
            error = f"{out.get('ename', '')}: {out.get('evalue', '')}"
            items.append({"kind": "error", "text": error})
        elif kind in ("display_data", "execute_result"):
            data = out.get("data", {})
            image = next((m for m in _IMAGES if m in data), None)
            if image and len(_text(data[image])) > _SHOWN_IMAGE_CHARS:
                items.append({"kind": "cut", "mb": len(_text(data[image])) * 3 / 4 / 2**20})
            elif image:
                items.append({"kind": "image", "mime": image, "data": _text(data[image]).strip()})
            elif "text/plain" in data:
                items.append({"kind": "text", "text": _text(data["text/plain"])})
    return items
