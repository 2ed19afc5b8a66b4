"""From the source to blocks of whole lines: open, read and gunzip in a thread, cut.

Small pieces on a stream, each with ``decode()`` (and ``flush()`` where it
holds bytes back), as httpx's decoders::

    reader thread:  source.read() -> GzipDecoder | IdentityDecoder -> size ceiling
                    -> BomStripper -> StartCheck -> LineBlocks
                    --bounded queue of (block, n_source_bytes)-->  the consumer

The blocks are cut in the reader thread, so that a block, not each of its
~4 pieces, crosses the queue: fewer hand-offs between threads (each a wake-up
and a few Python objects on both sides).

A block is a list of pieces (the last one cut after its last line), never
joined here: the C scanner reads the pieces where they are (a copy of ~1 MiB
per block, ~6% of the CPU, is saved); only the other paths join them.

Tests may set :data:`BLOCK_SIZE` and :data:`PIECE_SIZE` small (they are read
at each call) to put block and piece boundaries everywhere.
"""

from __future__ import annotations

import io
import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from typing import Any, Protocol, cast

from isal import igzip_lib

from fouryousee_data.errors import CorruptReportError
from fouryousee_data.parse._block import JSON_WS, excerpt

__all__ = [
    "BLOCK_SIZE",
    "PIECE_SIZE",
    "BomStripper",
    "GzipDecoder",
    "IdentityDecoder",
    "LineBlocks",
    "Readable",
    "Reader",
    "Source",
    "StartCheck",
    "blocks",
    "opened",
]


class Readable(Protocol):
    """A binary file object: ``read(n)`` gives at most ``n`` bytes, ``b""`` at the end."""

    def read(self, size: int, /) -> object: ...  # checked to be bytes when read


#: What ``read_table`` accepts as a source.
Source = str | os.PathLike[str] | bytes | bytearray | memoryview | Readable

#: Decompressed bytes parsed at once. Small blocks keep the transient memory
#: small and in cache; Arrow's per-call overhead is still negligible at 1 MiB.
BLOCK_SIZE = 1024 * 1024
#: Most decompressed bytes produced per decompress() call.
PIECE_SIZE = 256 * 1024

_READ_SIZE = 256 * 1024  # bytes asked from the source per read()
_QUEUE_ITEMS = 2  # blocks in flight between the reader thread and the consumer
_GZIP_MAGIC = b"\x1f\x8b"
_BOM = b"\xef\xbb\xbf"
# isal's stub declares ``error`` as an instance, not the exception class it is.
_InflateError = cast("type[Exception]", igzip_lib.IsalError)


def _inflater() -> igzip_lib.IgzipDecompressor:
    return igzip_lib.IgzipDecompressor(flag=igzip_lib.DECOMP_GZIP)


@contextmanager
def opened(source: Source) -> Iterator[Readable]:
    """The source as a binary file object (opened and closed here for a path)."""
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as f:
            yield f
    elif isinstance(source, bytes | bytearray | memoryview):
        yield io.BytesIO(source)
    elif callable(getattr(source, "read", None)):
        yield source
    else:
        raise ValueError(
            f"source must be a path, bytes or a binary file object, got {type(source).__name__}"
        )


# --------------------------------------------------------------------------- bytes -> text


class Decoder(Protocol):
    """Source bytes in, NDJSON text pieces out."""

    def decode(self, data: bytes) -> Iterator[bytes]: ...

    def flush(self) -> Iterator[bytes]: ...


class IdentityDecoder:
    """Plain NDJSON: the bytes are the text."""

    def decode(self, data: bytes) -> Iterator[bytes]:
        yield data

    def flush(self) -> Iterator[bytes]:
        yield from ()


class GzipDecoder:
    """Gunzip (ISA-L), member after member, at most :data:`PIECE_SIZE` bytes per piece.

    ISA-L's ``IgzipDecompressor`` keeps the input it has not consumed yet (no copy
    of the rest per piece, as ``decompressobj``'s ``unconsumed_tail`` made: ~30% of
    the inflate's time). A truncated stream, a corrupt one or bytes after its end
    that do not start another member raise :class:`CorruptReportError`.
    """

    def __init__(self) -> None:
        self._inflater = _inflater()
        self._between = b""  # bytes after a member's end, too few to tell a next member

    def decode(self, data: bytes) -> Iterator[bytes]:
        data, self._between = self._between + data, b""
        while True:
            if self._inflater.eof:  # a member ended: another one must start here
                if len(data) < len(_GZIP_MAGIC):
                    self._between = data
                    return
                if data[:2] != _GZIP_MAGIC:
                    raise CorruptReportError("unexpected bytes after the end of the gzip stream")
                self._inflater = _inflater()
            elif not data and self._inflater.needs_input:
                return
            try:
                piece = self._inflater.decompress(data, PIECE_SIZE)
            except _InflateError as exc:
                raise CorruptReportError(f"the gzip stream is corrupt ({exc})") from exc
            data = self._inflater.unused_data if self._inflater.eof else b""
            if piece:
                yield piece

    def flush(self) -> Iterator[bytes]:
        if self._between:
            raise CorruptReportError("unexpected bytes after the end of the gzip stream")
        if not self._inflater.eof:
            raise CorruptReportError("the gzip stream is truncated (the download was cut short?)")
        yield from ()


class _Stopped(Exception):
    """The consumer went away: the reader thread ends quietly."""


class Reader:
    """Reads, decodes and cuts the source in a thread; iterating gives its blocks.

    Iterating gives ``(block, n_source_bytes)`` as :func:`blocks` does. Errors of
    the thread (the source's own, unchanged, or :class:`CorruptReportError`) are
    re-raised in the consumer where the blocks before them end. On exit the thread
    is always stopped and joined.
    """

    def __init__(
        self,
        fileobj: Readable,
        max_decompressed: int,
        max_line: int,
        helper: Callable[[], bool] | None = None,
    ) -> None:
        self._file = fileobj
        self._help = helper  # work to do while the queue is full (True: some was done)
        self._max = max_decompressed
        self._max_line = max_line
        self._total = 0  # decompressed bytes so far
        self._n_read = 0  # source bytes read, not yet reported
        self._queue: queue.Queue[tuple[str, Any, int]] = queue.Queue(_QUEUE_ITEMS)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fouryousee-reader", daemon=True)

    def __enter__(self) -> Reader:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        while self._thread.is_alive():
            with suppress(queue.Empty):  # unblock a put() waiting for room
                self._queue.get(timeout=0.05)
        self._thread.join()

    def __iter__(self) -> Iterator[tuple[list[bytes | memoryview], int]]:
        while True:
            kind, value, n_source = self._queue.get()
            if kind == "data":
                yield value, n_source
            elif kind == "error":
                raise value
            else:
                return

    # -- the thread

    def _run(self) -> None:
        try:
            self._produce()
        except _Stopped:
            pass
        except BaseException as exc:  # handed to the consumer, which raises it
            with suppress(_Stopped):
                self._put("error", exc, 0)

    def _produce(self) -> None:
        for block, n_source in blocks(self._pieces(), self._max_line):
            self._put("data", block, n_source)
        self._put("end", None, 0)

    def _pieces(self) -> Iterator[tuple[bytes, int]]:
        """The text pieces, as ``(piece, n_source_bytes)``; the last may be empty when
        source bytes are left to report."""
        data = self._head()
        decoder: Decoder = GzipDecoder() if data[:2] == _GZIP_MAGIC else IdentityDecoder()
        while data:
            for piece in decoder.decode(data):
                yield self._counted(piece)
            data = self._read()
        for piece in decoder.flush():
            yield self._counted(piece)
        if self._n_read:
            yield b"", self._n_read

    def _head(self) -> bytes:
        """At least the 2 bytes that tell gzip from text (fewer only at the end)."""
        head = b""
        while len(head) < len(_GZIP_MAGIC):
            data = self._read()
            if not data:
                break
            head += data
        return head

    def _read(self) -> bytes:
        data = self._file.read(_READ_SIZE)
        if not isinstance(data, bytes | bytearray):
            raise ValueError("source must be opened in binary mode (read() returned text)")
        self._n_read += len(data)
        return bytes(data)

    def _counted(self, piece: bytes) -> tuple[bytes, int]:
        """The piece and the source bytes read since the last one, under the size ceiling."""
        self._total += len(piece)
        if self._total > self._max:
            raise CorruptReportError(
                f"the report decompresses to more than {self._max:,} bytes "
                "(max_decompressed_bytes): refusing a possible gzip bomb"
            )
        n_read, self._n_read = self._n_read, 0
        return piece, n_read

    def _put(self, kind: str, value: Any, n_source: int) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put((kind, value, n_source), block=False)
                return
            except queue.Full:
                if self._help is not None and self._help():
                    continue
            try:
                self._queue.put((kind, value, n_source), timeout=0.1)
                return
            except queue.Full:
                continue
        raise _Stopped


# --------------------------------------------------------------------------- text -> blocks


class BomStripper:
    """Drops a UTF-8 byte order mark at the start of the text, even split over pieces."""

    def __init__(self) -> None:
        self._head: bytes | None = b""  # None once past the start

    def decode(self, text: bytes) -> bytes:
        if self._head is None:
            return text
        text = self._head + text
        if len(text) < len(_BOM) and _BOM.startswith(text):
            self._head = text  # maybe a BOM still: wait for more
            return b""
        self._head = None
        return text.removeprefix(_BOM)

    def flush(self) -> bytes:
        head, self._head = self._head or b"", None
        return head  # the start of a BOM only: text, for StartCheck to refuse


class StartCheck:
    """Refuses a body whose first non-blank byte is not ``{`` (an HTML or XML error page)."""

    def __init__(self) -> None:
        self._seen = False  # a non-blank byte

    def decode(self, text: bytes) -> bytes:
        if not self._seen:
            start = text.lstrip(JSON_WS)
            if start and start[:1] != b"{":
                raise CorruptReportError(
                    f"the report is not NDJSON: it starts with {excerpt(start)!r} "
                    "(an HTML or XML error page?)"
                )
            self._seen = bool(start)
        return text


class LineBlocks:
    """Cuts the text into blocks of whole lines, each ending with ``\\n``.

    ``decode()`` gives a block once about ``block_size`` bytes are pending (or
    None); ``flush()`` the rest, with a final ``\\n`` added if missing. A block
    is a list of the pieces it is made of (the last one cut after its last
    ``\\n``; a piece holding none is kept whole until one comes): not joined.
    A line still unfinished after ``max_line`` bytes raises :class:`CorruptReportError`.
    """

    def __init__(self, max_line: int, block_size: int) -> None:
        self._max_line = max_line
        self._block_size = block_size
        self._pending: list[bytes] = []
        self._size = 0
        self._threshold = block_size  # grows while one line is longer than a block

    def decode(self, text: bytes) -> list[bytes | memoryview] | None:
        self._pending.append(text)
        self._size += len(text)
        if self._size < self._threshold:
            return None
        last = len(self._pending) - 1  # the last piece with a '\n', and where it is
        while last >= 0 and (cut := self._pending[last].rfind(b"\n") + 1) == 0:
            last -= 1
        if last < 0:
            block: list[bytes | memoryview] | None = None
            rest = self._pending
        else:
            piece = self._pending[last]
            block = [*self._pending[:last], memoryview(piece)[:cut]]
            rest = [piece[cut:], *self._pending[last + 1 :]]
        size = sum(map(len, rest))
        if size > self._max_line:
            raise CorruptReportError(
                f"a line is longer than {self._max_line:,} bytes (max_line_bytes)"
            )
        self._pending = rest
        self._size = size
        self._threshold = size + self._block_size
        return block

    def flush(self) -> list[bytes | memoryview]:
        pending, self._pending, self._size = self._pending, [], 0
        if any(pending) and not next(p for p in reversed(pending) if p).endswith(b"\n"):
            pending.append(b"\n")
        return list(pending)


def blocks(
    pieces: Iterable[tuple[bytes, int]], max_line: int
) -> Iterator[tuple[list[bytes | memoryview], int]]:
    """The text pieces as ``(block, n_source_bytes)``: whole lines (a list of pieces, see
    :class:`LineBlocks`), source bytes since the last.

    The last block may be empty when source bytes are left to report.
    """
    bom, start, cutter = BomStripper(), StartCheck(), LineBlocks(max_line, BLOCK_SIZE)
    n_source = 0
    for piece, n in pieces:
        n_source += n
        block = cutter.decode(start.decode(bom.decode(piece)))
        if block is not None:
            yield block, n_source
            n_source = 0
    head = cutter.decode(start.decode(bom.flush()))
    for block in (head, cutter.flush()):
        if block is not None and (any(block) or n_source):
            yield block, n_source
            n_source = 0
