"""Terminal colours, for the student's checks and the instructor's tables alike."""

__all__ = ["colour"]

_COLOURS = {"green": "\033[32m", "red": "\033[31m", "yellow": "\033[33m", "bold": "\033[1m"}
_RESET = "\033[0m"


def colour(text: str, name: str) -> str:
    """``text`` in a terminal colour (``green``, ``red``, ``yellow`` or ``bold``)."""
    if name not in _COLOURS:
        raise ValueError(f"colour must be one of {sorted(_COLOURS)}, got {name!r}")
    return f"{_COLOURS[name]}{text}{_RESET}"
