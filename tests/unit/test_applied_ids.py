"""A rebuild keeps its window of applied ids as integers and writes them back as UUID text:
the text must be what `str(uuid.UUID(...))` gives, leading zeros included, or a consumer that
takes over would not recognise the ids it is sent again."""

from __future__ import annotations

import uuid

from shared.platform.consumer import _uuid_text


def test_an_id_written_from_its_integer_is_the_uuid_text() -> None:
    ids = [uuid.uuid4() for _ in range(1000)] + [
        uuid.UUID(int=0), uuid.UUID(int=1), uuid.UUID(int=2**128 - 1),
        uuid.UUID("00000000-0000-5000-8000-00000000abcd")]
    for u in ids:
        assert _uuid_text(u.int) == str(u)
