"""Self-contained HTML pages for feedback and reports: escaped text, tables, cell outputs.

Everything that comes from a notebook is escaped and shown as text or as an image; a
student's HTML or JavaScript output is shown as its plain-text version, never run. What a
submission made is shown up to a size (:func:`clip`), with a note where it was cut.
"""

import html
import re

from course.grading.untrusted import printable

__all__ = ["page", "table", "code", "outputs", "escape", "clip", "SHOWN_CHARS"]

SHOWN_CHARS = 50_000  # the most a page shows of one text (a cell's code, an output, ...)
_SHOWN_IMAGE_CHARS = 2_000_000  # the most a page shows of one figure (base64 text)

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_IMAGES = ("image/png", "image/jpeg")

_STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto;
       padding: 0 1rem; color: #1d1d1f; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { margin-top: 2rem; }
.meta { color: #666; margin-top: 0; }
.wide { overflow-x: auto; }
table { border-collapse: collapse; margin: .5rem 0 1rem; }
th, td { border-bottom: 1px solid #ddd; padding: .3rem .8rem .3rem 0; text-align: left;
         vertical-align: top; }
th { font-weight: 600; }
pre { background: #f6f8fa; padding: .6rem .8rem; overflow-x: auto; border-radius: 4px; }
pre.output { background: #fff; border-left: 3px solid #ddd; }
pre.error { background: #fff5f5; border-left: 3px solid #d33; }
img { max-width: 100%; }
.passed { color: #1a7f37; font-weight: 600; } .notdone { color: #9a6700; font-weight: 600; }
.failed, .error, .timeout, .missing { color: #cf222e; font-weight: 600; }
.manual { color: #9a6700; }
.total { font-size: 1.3rem; font-weight: 600; }
"""


def escape(text):
    """``text`` as HTML text, without terminal colour codes, other control characters
    written as their escapes (:func:`printable`, line breaks kept)."""
    return html.escape(printable(_ANSI.sub("", str(text)), lines=True))


def page(title, body):
    """A complete HTML document: ``title`` (plain text) and ``body`` (HTML)."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )


def table(header, rows):
    """An HTML table; ``header`` cells are plain text, ``rows`` cells are HTML."""
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>\n" for row in rows)
    return f'<div class="wide"><table>\n<tr>{head}</tr>\n{body}</table></div>'


def clip(text, limit=SHOWN_CHARS):
    """``text`` (a string) cut to ``limit`` characters, with a note saying so when cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n[cut: {len(text) - limit} more characters are not shown]"


def code(source):
    """A cell's source as a code block."""
    return f"<pre><code>{escape(clip(source))}</code></pre>"


def _text(value):
    """An nbformat multi-line string (a string, or a list of lines) as one string."""
    return "".join(value) if isinstance(value, list) else str(value)


def outputs(cell_outputs):
    """A code cell's nbformat outputs: text as text, PNG and JPEG images as images.

    Errors show their type and message only (a traceback may quote test code).
    """
    parts = []
    for out in cell_outputs:
        kind = out.get("output_type")
        if kind == "stream":
            parts.append(f'<pre class="output">{escape(clip(_text(out.get("text", ""))))}</pre>')
        elif kind == "error":
            text = clip(f"{out.get('ename', '')}: {out.get('evalue', '')}")
            parts.append(f'<pre class="error">{escape(text)}</pre>')
        elif kind in ("display_data", "execute_result"):
            data = out.get("data", {})
            image = next((m for m in _IMAGES if m in data), None)
            if image and len(_text(data[image])) > _SHOWN_IMAGE_CHARS:
                size = len(_text(data[image])) * 3 / 4 / 2**20
                parts.append(f'<p class="meta">[cut: a figure of {size:.1f} MB is not shown]</p>')
            elif image:
                encoded = escape(_text(data[image]).strip())
                parts.append(f'<img alt="a figure" src="data:{image};base64,{encoded}">')
            elif "text/plain" in data:
                text = clip(_text(data["text/plain"]))
                parts.append(f'<pre class="output">{escape(text)}</pre>')
    return "\n".join(parts)
