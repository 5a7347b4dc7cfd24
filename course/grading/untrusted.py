"""Text that came from a submission, made safe to show to the instructor.

Student ids (folder names), notebook names, messages of exceptions a student's code raised
and what an execution server wrote to its log all come from submissions. Printed raw, an
escape sequence in them can set the terminal's window title, write to the clipboard (OSC
52), move the cursor or paint a fake line; in a CSV file a cell that starts with ``=``
is a formula to a spreadsheet. Everything the grader prints, writes to CSV or puts in HTML
goes through :func:`printable` (:func:`csv_field` for CSV), so the instructor sees such
characters as the escapes Python would write (``\\x1b``, ``\\u202e``), never their effect.
"""

__all__ = ["printable", "csv_field", "FORMULA_STARTS"]

# the first characters that make a spreadsheet read a cell as a formula
FORMULA_STARTS = ("=", "+", "-", "@")


def _escaped(line, keep):
    if line.isprintable():  # the usual case, checked in C
        return line
    return "".join(c if c.isprintable() or c in keep else ascii(c)[1:-1] for c in line)


def printable(text: object, lines: bool = False) -> str:
    """``text`` with every character a terminal could act on written as its escape.

    Control characters (ESC, carriage return, backspace, BEL, C1 controls, ...), Unicode
    format characters (bidirectional overrides, zero-width characters) and line or
    paragraph separators become ``\\x1b``, ``\\r``, ``\\u202e``...; printable text, spaces
    included, is kept as it is.

    Args:
        text: the text (anything: it is converted with ``str``).
        lines: keep line breaks and tabs (a multi-line message); ``\\r\\n`` counts as a
            line break. Without it the result is always one line.

    Returns:
        The text, safe to print.
    """
    text = str(text)
    if not lines:
        return _escaped(text, "")
    return "\n".join(_escaped(line, "\t") for line in text.replace("\r\n", "\n").split("\n"))


def csv_field(text: object) -> str:
    """``text`` as one field of a CSV line that a spreadsheet shows as text.

    The text is made :func:`printable` (one line), a leading ``= + - @`` gets a ``'`` in
    front, which spreadsheets read as "this is text", and a field holding a comma or a
    double quote is quoted as CSV quotes it.
    """
    field = printable(text)
    if field.startswith(FORMULA_STARTS):
        field = "'" + field
    if "," in field or '"' in field:
        field = '"' + field.replace('"', '""') + '"'
    return field
