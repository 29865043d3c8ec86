"""A rebuild keeps its window of applied ids as integers and writes them back as UUID text:
the text must be what `str(uuid.UUID(...))` gives, leading zeros included, or a consumer that
takes over would not recognise the ids it is sent again."""

from __future__ import annotations

import uuid

from shared.platform.consumer import _uuid_text, _Window


def test_an_id_written_from_its_integer_is_the_uuid_text() -> None:
    ids = [uuid.uuid4() for _ in range(1000)] + [
        uuid.UUID(int=0), uuid.UUID(int=1), uuid.UUID(int=2**128 - 1),
        uuid.UUID("00000000-0000-5000-8000-00000000abcd")]
    for u in ids:
        assert _uuid_text(u.int) == str(u)


def test_a_window_extended_by_a_batch_holds_what_adding_each_id_holds() -> None:
    """`_Window.extend` (a batch at once) leaves the ids and their order as `add` of each,
    when the window fills, overflows, and with a batch larger than the window."""
    for size in (1, 3, 10, 1000):
        one, many = _Window(size), _Window(size)
        start = 0
        for length in (0, 1, 2, 5, 17, 4, 40, 3):
            keys = list(range(start, start + length))
            start += length
            for key in keys:
                one.add(key)
            many.extend(keys)
            assert list(many.order) == list(one.order)
            assert many.ids == one.ids == set(one.order)
