"""The files of a submission's working folder: filled, watched, and read back.

The grader hands a submission its files (:func:`fill_folder`), and keeps what the notebook
writes there (:func:`produced_files`, within :data:`_MAX_PRODUCED_BYTES`), as nbgrader keeps
them in ``autograded/``.
"""

from __future__ import annotations

import base64
import os
import shutil
import stat
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path


def fill_folder(folder: Path | str, files: dict[str, str]) -> dict[str, bytes]:
    """Empty ``folder``, then write ``files`` (``{relative path: base64}``) into it.

    Returns:
        ``{relative path: bytes}`` of what was written.
    """
    for entry in os.scandir(folder):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            os.unlink(entry.path)
    return write_files(folder, files)


def remove_folder(folder: Path | str) -> None:
    """Remove a submission's working folder, also where it made folders read-only."""
    os.chmod(folder, 0o700)
    for path, dirs, _ in os.walk(folder):  # top-down: a folder is fixed before it is read
        for name in dirs:
            inner = os.path.join(path, name)
            if not os.path.islink(inner):
                os.chmod(inner, 0o700)
    # what is left (nothing, unless the file system failed) is never seen again: each
    # submission works in a new folder
    shutil.rmtree(folder, ignore_errors=True)


_MAX_PRODUCED_BYTES = 16 * 1024 * 1024  # files a notebook writes that the grader keeps


def signatures(folder: Path | str) -> dict[str, tuple[int, int]]:
    """``{relative path: (size, modification time)}`` of the regular files in ``folder``."""
    found = {}
    for path, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if d not in (".ipynb_checkpoints", "__pycache__")]
        for name in names:
            full = os.path.join(path, name)
            try:
                info = os.lstat(full)
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode):
                found[os.path.relpath(full, folder)] = (info.st_size, info.st_mtime_ns)
    return found


def changed_files(folder: Path | str, known: dict[str, tuple[int, int]]) -> dict[str, str]:
    """Files of ``folder`` changed since ``known`` (signatures, updated), as base64, capped.

    The student's side sends them with every answer to the judge, so that a test that reads
    a file the student's code wrote finds it, as in nbgrader's single folder.
    """
    changed, total = {}, 0
    for relative, signature in sorted(signatures(folder).items()):
        if known.get(relative) == signature:
            continue
        if total + signature[0] > _MAX_PRODUCED_BYTES:
            break
        try:
            fd = os.open(os.path.join(folder, relative), os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            continue
        with os.fdopen(fd, "rb") as f:
            data = f.read(_MAX_PRODUCED_BYTES - total)
        total += len(data)
        known[relative] = signature
        changed[relative] = base64.b64encode(data).decode()
    return changed


def write_files(folder: Path | str, files: dict[str, str]) -> dict[str, bytes]:
    """Write ``files`` (``{relative path: base64}``) into ``folder``; return them as bytes."""
    written = {}
    root = os.path.realpath(folder)
    for name, data in files.items():
        path = os.path.realpath(os.path.join(folder, str(name)))
        if not path.startswith(root + os.sep):
            continue  # a name that climbs out of the folder
        os.makedirs(os.path.dirname(path), exist_ok=True)
        written[name] = base64.b64decode(data)
        with open(path, "wb") as f:
            f.write(written[name])
    return written


def produced_files(folder: Path | str, given: dict[str, bytes]) -> dict[str, str]:
    """Regular files in ``folder`` that the run created or changed, as base64 (capped)."""
    produced, total = {}, 0
    for path, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if d not in (".ipynb_checkpoints", "__pycache__")]
        for name in sorted(names):
            full = os.path.join(path, name)
            relative = os.path.relpath(full, folder)
            try:
                fd = os.open(full, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            except OSError:
                continue  # a link, or gone
            with os.fdopen(fd, "rb") as f:
                if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                    continue
                data = f.read(_MAX_PRODUCED_BYTES - total + 1)
            if given.get(relative) == data:
                continue
            if total + len(data) > _MAX_PRODUCED_BYTES:
                return produced  # the rest is not kept
            total += len(data)
            produced[relative] = base64.b64encode(data).decode()
    return produced
