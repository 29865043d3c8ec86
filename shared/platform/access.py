"""What every service's permission module (`services/<service>/adapters/access.py`) shares: the
two ways a request is refused, so that all four services refuse alike.

- **403: the role may never do this.** Checked first (`require` in `shared.platform.auth`),
  before any id is looked up, so the answer is the same whatever id the request names.
- **404: not for this id.** A role that may do it in its own scope, naming an id outside that
  scope (another municipality's participant, another region's occasion), gets exactly the
  answer an id that does not exist gets: same status, same body, same message. Nobody can
  tell from the answer whether an id exists outside their scope.

The message therefore never says which of the two it is; it names the kind of thing and the
id the caller sent, nothing the caller did not already know.
"""

from __future__ import annotations

from shared.platform.errors import NotFound

KINDS = {
    "participant_id": "Deltagaren",
    "trainer_id": "Utbildaren",
    "municipality_id": "Kommunen",
    "region_id": "Regionen",
    "occasion_id": "Kurstillfället",
}


def hidden(field: str, id: str, *, at: str | None = None, note: str = "") -> NotFound:
    """The one answer for "does not exist" and "not yours": 404 naming the field (`at`, when
    the id came in another field, e.g. `to_municipality_id`). A `note` is the same for both
    (a service that learns ids from the bus says that a new one may not have arrived yet)."""
    message = f"{KINDS[field]} {id} finns inte, eller ligger utanför ditt område."
    return NotFound(f"{message} {note}" if note else message, field=at or field)
