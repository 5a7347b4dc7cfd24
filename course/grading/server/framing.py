"""Message framing between the grader and its execution servers (and their children).

A message is a 4-byte big-endian length followed by that many bytes of UTF-8 JSON, always an
object; no pickle anywhere. :class:`MessageReader` reads them within a byte budget
(:class:`MessageTooLarge`) and a budget of JSON values, so a hostile sender cannot make the
reader hold more than it allows. Used on both sides of the wall: it imports nothing of the
grader.
"""

import json
import json.decoder
import json.scanner
import os
import select
import struct
import time
from typing import Any

_HEADER = struct.Struct(">I")

Message = dict[str, Any]  # one message: a JSON object (its keys say what it is)


MAX_MESSAGE_BYTES = 24 * 1024 * 1024  # the most one message may hold (a child's, or a server's)


MAX_MESSAGE_VALUES = 500_000  # the most JSON values one message may hold (each costs memory)


class ProtocolError(RuntimeError):
    """A message that breaks the framing: too large, or not a JSON object."""


class MessageTooLarge(ProtocolError):
    """A message past the reader's limit (in bytes, or in JSON values); it was not kept."""


class _TooManyValues(Exception):
    pass


class _CountingDecoder(json.JSONDecoder):
    """A JSON decoder that stops past ``limit`` values, before it has built them all.

    Python's own decoder builds every list before anything can count it: ``[[],[],...]``
    turns each three bytes into a 64-byte list. This one counts each value as it is read.
    """

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.left = limit
        self.parse_array = lambda s_and_end, scan_once: json.decoder.JSONArray(
            s_and_end, self._counted(scan_once)
        )
        self.parse_object = lambda s_and_end, strict, scan_once, *rest: json.decoder.JSONObject(
            s_and_end, strict, self._counted(scan_once), *rest
        )
        self.scan_once = json.scanner.py_make_scanner(self)

    def _counted(self, scan_once):
        def scan(string, idx):
            self.left -= 1
            if self.left < 0:
                raise _TooManyValues
            return scan_once(string, idx)

        return scan


def parse_message(text: str) -> Message:
    """The JSON object ``text`` holds; raises :class:`ProtocolError` for anything else.

    Messages of many values (past :data:`MAX_MESSAGE_VALUES`) raise :class:`MessageTooLarge`:
    their parsing stops there, so that no message costs more memory than about its size.
    """
    # every value but the first of a container follows a ',' or a ':': an upper bound, so
    # only a message that may hold too many values is read by the slower, counting decoder
    bound = text.count(",") + text.count(":") + text.count("[") + 1
    try:
        if bound <= MAX_MESSAGE_VALUES:
            message = json.loads(text)
        else:
            message = _CountingDecoder(MAX_MESSAGE_VALUES).decode(text)
    except _TooManyValues:
        raise MessageTooLarge(f"a message of more than {MAX_MESSAGE_VALUES} values") from None
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(f"a message that is not JSON ({str(exc)[:200]})") from None
    if not isinstance(message, dict):
        raise ProtocolError("a message that is not a JSON object")
    return message


def frame(obj: Message) -> bytes:
    """``obj`` as one framed message (bytes)."""
    data = json.dumps(obj).encode("utf-8")
    return _HEADER.pack(len(data)) + data


def write_message(fd: int, obj: Message) -> None:
    """Send one framed JSON message on file descriptor ``fd`` (blocking)."""
    data = memoryview(json.dumps(obj).encode("utf-8"))
    header = memoryview(_HEADER.pack(len(data)))
    while header or data:  # header and data in one system call, without joining them
        sent = os.writev(fd, [header, data])
        head = min(sent, len(header))
        header, data = header[head:], data[sent - head :]


class MessageReader:
    """Reads framed messages from a file descriptor.

    A message larger than the limit is refused from its header on: its bytes are thrown
    away as they arrive, never held, and reading goes on with the next message.

    Args:
        fd: the file descriptor.
        max_bytes: larger messages raise :class:`MessageTooLarge` (None: no limit).
    """

    def __init__(self, fd: int, max_bytes: int | None = None) -> None:
        self.fd = fd
        self.max_bytes = max_bytes
        self.buffer = bytearray()
        self.eof = False
        self.skipping = 0  # bytes of a refused message still to throw away
        self.last_size = 0  # bytes of the last message popped, its header included

    def _skip(self):
        if self.skipping and self.buffer:
            count = min(self.skipping, len(self.buffer))
            del self.buffer[:count]
            self.skipping -= count

    def pop(self, limit: int | None = None) -> Message | None:
        """The next complete buffered message, or None.

        Args:
            limit: refuse a message larger than this many bytes (on top of ``max_bytes``).

        Raises:
            MessageTooLarge: the next message is past the limit (it is skipped).
            ProtocolError: the next message is not a JSON object.
        """
        self._skip()
        if self.skipping or len(self.buffer) < _HEADER.size:
            return None
        (size,) = _HEADER.unpack_from(self.buffer)
        limits = [n for n in (limit, self.max_bytes) if n is not None]
        if limits and size > min(limits):
            del self.buffer[: _HEADER.size]
            self.skipping = size
            self._skip()
            raise MessageTooLarge(f"a message of {size} bytes (the limit is {min(limits)})")
        end = _HEADER.size + size
        if len(self.buffer) < end:
            return None
        try:
            with memoryview(self.buffer) as view:
                text = str(view[_HEADER.size : end], "utf-8")
        except UnicodeDecodeError:
            text = None
        self.buffer = self.buffer[end:]  # a new buffer: a large message's memory is freed
        self.last_size = end
        if text is None:
            raise ProtocolError("a message that is not UTF-8 text")
        return parse_message(text)

    def fill(self) -> bool:
        """Read what is available (one read); False at end of file."""
        chunk = os.read(self.fd, 1 << 16)
        if not chunk:
            self.eof = True
            return False
        self.buffer += chunk
        self._skip()
        return True

    def read(self, timeout: float | None = None, limit: int | None = None) -> Message | None:
        """The next message; None at end of file; raises TimeoutError past ``timeout``.

        Raises:
            MessageTooLarge, ProtocolError: as :meth:`pop` (``limit`` is passed on).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            message = self.pop(limit)
            if message is not None:
                return message
            if self.eof:
                return None
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                    raise TimeoutError
            self.fill()
