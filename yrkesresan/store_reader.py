"""Reading the PostgreSQL stores for a rebuild in a process of its own.

A rebuild's process is bound by its one Python core: the folds, and each pass's read of the
stores (fetching the rows, decoding their state, making each envelope's fields and their
JSON: about 6 of the 8 us an envelope cost it). The reader does that part on the machine's
other core while the folds run, and hands over each envelope as the JSON the relay would
publish, which the rebuild decodes into the contract's Structs as before (about 2.5 us).
The envelopes, their order and the positions read are `stores.merged_read`'s: both read the
stores through `stores.merged_fields`.

The pipe carries frames: a little-endian 4-byte length, a byte saying what follows, and the
body. The byte is a topic's index for an envelope (with `AS_MODEL` added for the types a
rebuild feeds as pydantic's models, `stores.KEPT_AS_MODELS`), `TOPIC` to name the next
topic's index, `END` with the positions read once a pass has read every store to its end,
or `FAILED` with what went wrong. The reader reads one pass for each request (a line of JSON,
the positions to read after) on its standard input, and ends when that is closed.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import os
import struct
import subprocess
import sys
from collections.abc import Iterator
from typing import IO, Any

import orjson

FRAME = struct.Struct("<IB")
AS_MODEL = 0x80
TOPIC, END, FAILED, FAILED_OPERATIONAL = 0xFC, 0xFD, 0xFE, 0xFF
PIPE_SIZE = 1 << 20
"""Bytes the pipe holds (Linux's `F_SETPIPE_SZ`; 1 MiB is its default most for a user): the
reader runs about that far ahead of the folds, and fills it in fewer wake-ups than 64 KiB."""
CHUNK = 1 << 20


class StoreReaderError(OSError):
    """The reader could not read the stores (a database gone, its process ended): an error
    of the world the rebuild runs in, reported as one (`cli.operational_errors`)."""


class StoreReader:
    """The rebuild's end: starts the reader (`python -m yrkesresan.store_reader`), with the
    same environment and so the same stores, and asks it for one pass at a time."""

    def __init__(self) -> None:
        readable, writable = os.pipe()
        with contextlib.suppress(OSError, AttributeError):
            fcntl.fcntl(writable, fcntl.F_SETPIPE_SZ, PIPE_SIZE)  # type: ignore[attr-defined]
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "yrkesresan.store_reader", str(writable)],
                stdin=subprocess.PIPE, pass_fds=(writable,))
        except BaseException:
            os.close(readable)
            raise
        finally:
            os.close(writable)
        self._fd = readable
        self._frames = self._framed()
        self._topics: list[str] = []
        self._usable = True

    @property
    def pid(self) -> int:
        """The reader's process id (a benchmark reads the CPU time it used)."""
        return self._process.pid

    def read(self, after: dict[str, int] | None = None, read: dict[str, int] | None = None
             ) -> Iterator[tuple[str, Any]]:
        """What `stores.merged_read(apps, structs=True, after=after, read=read)` yields, read
        by the reader. A pass left before its end leaves the reader unusable (`close` it)."""
        from shared.events import parse_envelope_dict
        from shared.events.fast import fast_decoder
        from yrkesresan.stores import as_struct

        if not self._usable:
            raise StoreReaderError("läsaren av lagren lämnades mitt i en läsning")
        self._usable = False
        stdin = self._process.stdin
        assert stdin is not None
        try:
            stdin.write(orjson.dumps({"after": after or {}}) + b"\n")
            stdin.flush()
        except OSError:
            raise self._gone() from None
        decode = fast_decoder()
        topics = self._topics
        for kind, body in self._frames:
            if kind < AS_MODEL:
                yield topics[kind], as_struct(decode, body)
            elif kind < TOPIC:
                yield topics[kind - AS_MODEL], parse_envelope_dict(orjson.loads(body))
            elif kind == TOPIC:
                topics.append(body.decode())
            elif kind == END:
                if read is not None:
                    read.update(orjson.loads(body))
                self._usable = True
                return
            else:
                message = f"läsaren av lagren: {body.decode(errors='replace')}"
                if kind == FAILED_OPERATIONAL:
                    raise StoreReaderError(message)
                raise RuntimeError(message)

    def _framed(self) -> Iterator[tuple[int, bytes]]:
        buffer, at = b"", 0
        unpack = FRAME.unpack_from
        head = FRAME.size
        while True:
            end = len(buffer)
            while end - at >= head:
                size, kind = unpack(buffer, at)
                stop = at + head + size
                if stop > end:
                    break
                yield kind, buffer[at + head:stop]
                at = stop
            chunk = os.read(self._fd, CHUNK)
            if not chunk:
                raise self._gone()
            buffer, at = buffer[at:] + chunk, 0

    def _gone(self) -> StoreReaderError:
        code = self._process.wait()
        return StoreReaderError(f"läsaren av lagren avslutades (kod {code})")

    def close(self) -> None:
        """End the reader: at once if it is mid-pass (nothing it reads is written). Once ended,
        closing it again does nothing."""
        if self._fd < 0:
            return
        process = self._process
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
        if not self._usable and process.poll() is None:
            process.kill()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        os.close(self._fd)
        self._fd = -1

    def __enter__(self) -> StoreReader:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def serve(out: IO[bytes], requests: IO[bytes]) -> None:
    """The reader's side: one pass over every service's store for each request."""
    from yrkesresan import processes
    from yrkesresan.cli import operational_errors
    from yrkesresan.stores import KEPT_AS_MODELS, merged_fields

    # Nothing it makes is kept past an envelope, and nothing of it is a cycle.
    gc.disable()
    apps: list[Any] = []
    topics: dict[str, int] = {}
    pack = FRAME.pack
    write = out.write
    try:
        apps.extend(spec.store() for spec in processes.services().values())
        for request in requests:
            after = orjson.loads(request)["after"]
            read: dict[str, int] = {}
            for _, _, topic, fields in merged_fields(apps, after=after, read=read):
                index = topics.get(topic)
                if index is None:
                    if len(topics) == AS_MODEL:
                        raise ValueError(f"more than {AS_MODEL} topics")
                    index = topics[topic] = len(topics)
                    name = topic.encode()
                    write(pack(len(name), TOPIC) + name)
                raw = orjson.dumps(fields)
                if fields["type"] in KEPT_AS_MODELS:
                    index += AS_MODEL
                write(pack(len(raw), index) + raw)
            positions = orjson.dumps(read)
            write(pack(len(positions), END) + positions)
            out.flush()
    except Exception as error:  # said to the rebuild, which reports it
        said = f"{type(error).__name__}: {' '.join(str(error).split())}".encode()
        kind = FAILED_OPERATIONAL if isinstance(error, operational_errors()) else FAILED
        write(pack(len(said), kind) + said)
        out.flush()
        raise SystemExit(1) from None
    finally:
        for app in apps:
            app.close()


def main() -> None:
    out = os.fdopen(int(sys.argv[1]), "wb", buffering=CHUNK)
    try:
        serve(out, sys.stdin.buffer)
    except BrokenPipeError:  # the rebuild ended before the pass did
        raise SystemExit(1) from None
    finally:
        with contextlib.suppress(OSError):
            out.close()


if __name__ == "__main__":
    main()
