"""Matplotlib's font lists reach the sandbox (``sandbox._font_lists``) only when every font
they name is one the sandbox shows."""

import json
import sys

from course.grading import sandbox


def font_list(folder, name, fonts):
    path = folder / name
    fonts = [{"fname": f} for f in fonts]
    path.write_text(json.dumps({"_version": "1", "ttflist": fonts, "afmlist": []}))
    return path


def test_lists_naming_only_shown_fonts_are_bound_where_matplotlib_looks(tmp_path, monkeypatch):
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path))
    good = font_list(tmp_path, "fontlist-v1.json", ["fonts/ttf/DejaVuSans.ttf", "/usr/x.ttf"])
    font_list(tmp_path, "fontlist-v2.json", ["/usr/x.ttf", "/home/someone/.fonts/y.ttf"])
    font_list(tmp_path, "fontlist-v3.json", [f"{sys.prefix}/z.ttf"])
    (tmp_path / "fontlist-v4.json").write_text("{not json")
    (tmp_path / "matplotlibrc").write_text("backend: agg")  # never shown
    args = sandbox._font_lists()
    assert args == [
        "--ro-bind", str(good), "/tmp/matplotlib/fontlist-v1.json",
        "--ro-bind", str(tmp_path / "fontlist-v3.json"), "/tmp/matplotlib/fontlist-v3.json",
    ]  # fmt: skip
    command = sandbox.command(["true"])
    assert command.index(str(good)) > command.index("/tmp")  # over the sandbox's new /tmp


def test_without_lists_nothing_is_bound(tmp_path, monkeypatch):
    monkeypatch.delenv("MPLCONFIGDIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert sandbox._font_lists() == []
    (tmp_path / "matplotlib").mkdir()
    good = font_list(tmp_path / "matplotlib", "fontlist-v1.json", ["fonts/a.ttf"])
    assert sandbox._font_lists() == ["--ro-bind", str(good), "/tmp/matplotlib/fontlist-v1.json"]
