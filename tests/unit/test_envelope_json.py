"""An envelope's JSON is made once and kept (it is frozen): what it says must stay what
pydantic writes of it, equality must not see it, and a copy with changes writes its own."""

from __future__ import annotations

from shared.events import parse_envelope
from yrkesresan.demo import demo_envelopes


def test_the_kept_json_is_what_pydantic_writes_and_equality_ignores_it() -> None:
    envelopes = list(demo_envelopes(3, seed=5))
    assert len({env.type for env in envelopes}) >= 10
    for env in envelopes:
        written = env.model_dump_json(exclude_none=True).encode()
        assert env.to_json() == written
        assert env.to_json() is env.to_json()  # kept, not written again
        again = parse_envelope(written)  # its own JSON not made yet
        assert again == env and again.to_dict() == env.to_dict()
        assert "_json" not in env.model_dump_json() and "_json" not in env.model_dump()


def test_a_copy_with_changes_writes_its_own_json() -> None:
    env = next(iter(demo_envelopes(1, seed=5)))
    before = env.to_json()
    changed = env.model_copy(update={"actor": "someone-else"})
    assert changed.to_json() != before
    assert parse_envelope(changed.to_json()).actor == "someone-else"
    assert env.model_copy().to_json() == before
