"""Who may read a region's event feed; one function per decision, as in the services.

| what | who |
| --- | --- |
| a region's event feed (`/regions/{region_id}/events`) | that region's own system (`region_reader`, the token a region's consumer is given: docs/regions.md); the regional coordinator of that region; system |

Every other role gets 403, decided before the region is looked up (the national analyst sees
aggregates, never a stream of individual events). A region's system or coordinator naming
another region, and anyone naming a region with no events, get the same 404
(`shared.platform.access`): nobody learns from the answer whether another region exists.
"""  # noqa: E501

from __future__ import annotations

from collections.abc import Callable

from shared.platform.access import hidden
from shared.platform.auth import Principal, Role, require

RegionCheck = Callable[[str, bool], None]  # (region_id, whether its log holds anything)


def read_feed(who: Principal) -> RegionCheck:
    """The role now; the returned check once the region has been looked up."""
    require(who, Role.REGION_READER, Role.REGIONAL_COORDINATOR)

    def check(region_id: str, exists: bool) -> None:
        if not exists or (who.role is not Role.SYSTEM and who.region_id != region_id):
            raise hidden("region_id", region_id)

    return check
