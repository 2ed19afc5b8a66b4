"""Reading a request body off the socket, never more than a limit in memory.

``Content-Length`` bodies are read exactly; ``Transfer-Encoding: chunked``
bodies are decoded with the same limit. What cannot be read becomes a
:class:`BodyError` carrying the HTTP status to answer (400, 408, 411, 413, 501).
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import socket
    from email.message import Message

__all__ = ["DRAIN_BYTES", "BodyError", "Stream", "deadline_reader", "discard", "read_body"]

#: A body declared larger than the limit is still read and discarded up to this
#: many bytes, so the client sees the 413 instead of a reset connection. It is
#: also the most a chunked body may carry in all (its excess is discarded).
DRAIN_BYTES = 4 * 1024 * 1024
_MAX_CHUNK_LINE = 1024
_MAX_TRAILER_LINES = 32
_CHUNK_SIZE_RE = re.compile(rb"[0-9A-Fa-f]{1,8}")


class Stream(Protocol):
    """What a body is read from: a buffered binary stream (a socket's ``rfile``, ``BytesIO``)."""

    def read(self, size: int = -1, /) -> bytes: ...

    def readline(self, size: int = -1, /) -> bytes: ...


class BodyError(Exception):
    """A body that cannot be read: ``status`` is the HTTP answer, ``message`` says why."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(message)


def read_body(rfile: Stream, headers: Message, limit: int) -> bytes:
    """The request body, never more than ``limit`` bytes in memory.

    ``Content-Length`` bodies are read exactly; ``Transfer-Encoding: chunked``
    bodies are decoded with the same limit; neither is 411. Both at once is a
    request-smuggling shape (400).

    Examples
    --------
    >>> import io, email.message
    >>> headers = email.message.Message()
    >>> headers["Content-Length"] = "2"
    >>> read_body(io.BytesIO(b"{}"), headers, 100)
    b'{}'
    >>> read_body(io.BytesIO(b"{}"), headers, 1)
    Traceback (most recent call last):
    ...
    fouryousee_data.webhook._body.BodyError: body over the 1-byte limit
    """
    lengths = headers.get_all("Content-Length") or []
    encoding = headers.get("Transfer-Encoding")
    if encoding is None:
        return _read_sized(rfile, lengths, limit)
    if lengths:
        raise BodyError(400, "both Content-Length and Transfer-Encoding")
    if encoding.strip().lower() != "chunked":
        raise BodyError(501, "only the chunked Transfer-Encoding is supported")
    try:
        return _read_chunked(rfile, limit)
    except TimeoutError as exc:
        raise BodyError(408, "the body did not arrive in time") from exc


def discard(rfile: Stream, size: int) -> None:
    """Read and drop up to ``size`` bytes (fewer if the client stops sending).

    Examples
    --------
    >>> import io
    >>> stream = io.BytesIO(b"abcdef")
    >>> discard(stream, 4); stream.read()
    b'ef'
    """
    while size > 0:
        got = rfile.read(min(size, 65536))
        if not got:
            return
        size -= len(got)


def deadline_reader(sock: socket.socket, seconds: float) -> io.BufferedReader:
    """A buffered reader of ``sock`` whose reads all end within ``seconds`` from now.

    Every receive waits at most the time left, so a client trickling bytes
    cannot hold a connection longer than ``seconds`` in all: the limit bounds
    the whole request (request line, headers and body), not the gap between two
    reads. Past it, reads raise ``TimeoutError``.

    Examples
    --------
    >>> import socket
    >>> ours, theirs = socket.socketpair()
    >>> theirs.sendall(b"POST / HTTP/1.1\\r\\n")
    >>> deadline_reader(ours, 0.2).readline()
    b'POST / HTTP/1.1\\r\\n'
    >>> deadline_reader(ours, 0.05).readline()
    Traceback (most recent call last):
    ...
    TimeoutError: timed out
    >>> ours.close(); theirs.close()
    """
    return io.BufferedReader(_DeadlineIO(sock, time.monotonic() + seconds))


class _DeadlineIO(io.RawIOBase):
    """Raw reads of a socket, each with the socket timeout set to the time left."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        super().__init__()
        self._sock = sock
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("timed out")
        self._sock.settimeout(left)
        return self._sock.recv_into(buffer)


# --------------------------------------------------------------------------- Content-Length


def _read_sized(rfile: Stream, lengths: list[str], limit: int) -> bytes:
    if not lengths:
        raise BodyError(411, "Content-Length or chunked Transfer-Encoding required")
    if len(lengths) > 1 or not lengths[0].strip().isdigit() or not lengths[0].isascii():
        raise BodyError(400, "invalid Content-Length")
    size = int(lengths[0])
    if size > limit:
        if size <= DRAIN_BYTES:
            discard(rfile, size)
        raise BodyError(413, f"body over the {limit}-byte limit")
    try:
        body = rfile.read(size)
    except TimeoutError as exc:
        raise BodyError(408, "the body did not arrive in time") from exc
    if len(body) != size:
        raise BodyError(400, "body shorter than its Content-Length")
    return body


# --------------------------------------------------------------------------- chunked


def _read_chunked(rfile: Stream, limit: int) -> bytes:
    """The decoded body; over ``limit`` it is read on (up to :data:`DRAIN_BYTES`), then 413."""
    parts: list[bytes] = []
    total = 0
    for data in _chunks(rfile, limit):
        total += len(data)
        if total <= limit:
            parts.append(data)
    _skip_trailer(rfile)
    if total > limit:
        raise BodyError(413, f"body over the {limit}-byte limit")
    return b"".join(parts)


def _chunks(rfile: Stream, limit: int) -> Iterator[bytes]:
    """The data of each chunk; 413 before reading one that takes the total past DRAIN_BYTES."""
    total = 0
    while True:  # bounded: every chunk has at least one byte, and they add up to DRAIN_BYTES
        size = _chunk_size(rfile.readline(_MAX_CHUNK_LINE + 1))
        if size == 0:
            return
        total += size
        if total > DRAIN_BYTES:
            raise BodyError(413, f"body over the {limit}-byte limit")
        data = rfile.read(size)
        if len(data) != size or rfile.readline(_MAX_CHUNK_LINE + 1).strip():
            raise BodyError(400, "malformed chunked body")
        yield data


def _chunk_size(line: bytes) -> int:
    """The size on a chunk's first line (extensions after ``;`` are ignored)."""
    size_text = line.split(b";", 1)[0].strip()
    if not line.endswith(b"\n") or not _CHUNK_SIZE_RE.fullmatch(size_text):
        raise BodyError(400, "malformed chunked body")
    return int(size_text, 16)


def _skip_trailer(rfile: Stream) -> None:
    for _ in range(_MAX_TRAILER_LINES):
        if not rfile.readline(_MAX_CHUNK_LINE + 1).strip():
            return
