"""A snapshot's fold is inflated as the unpickler reads it (`consumer._Inflating`)."""

from __future__ import annotations

import io
import pickle
import random
import zlib

import pytest

from shared.platform import consumer


@pytest.mark.parametrize("chunk", [1, 7, 4096, 1 << 20])
def test_a_fold_inflated_as_read_is_the_fold_pickled(monkeypatch: pytest.MonkeyPatch,
                                                      chunk: int) -> None:
    monkeypatch.setattr(consumer, "_INFLATED_CHUNK", chunk)
    rng = random.Random(3)
    # runs of one byte (a small input inflates to much more than a read asks: the
    # decompressor's unconsumed tail) and random bytes, ints and shared strings
    names = [f"id-{i}" for i in range(500)]
    fold = {"runs": b"\0" * 3_000_000, "noise": rng.randbytes(200_000),
            "held": [(rng.choice(names), rng.randrange(1 << 40)) for _ in range(50_000)]}
    deflating = consumer._Deflating()
    pickle.dump(fold, deflating, protocol=pickle.HIGHEST_PROTOCOL)
    spooled = deflating.finish()
    compressed = b"".join(spooled.chunks())
    spooled.close()
    assert zlib.decompress(compressed) == pickle.dumps(fold, protocol=pickle.HIGHEST_PROTOCOL)
    reader = io.BufferedReader(consumer._Inflating(compressed), max(chunk, 8))
    assert pickle.load(reader) == fold
    assert reader.read() == b""
