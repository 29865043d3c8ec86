"""The region feed: a region's log over HTTP as server-sent events, for a region that cannot
reach the cluster.

`GET /regions/{region_id}/events` streams the region's envelopes in log order, one SSE event
each: `id:` is its position in the region's log, `data:` the envelope (the same JSON as on
`yrkesresan.region.<region_id>.v1`). A client resumes after the last position it applied, by
`Last-Event-ID` (which browsers' `EventSource` sends by itself on reconnecting) or `?after=`;
the larger wins. With `?follow=false` the answer ends at the end of the log (a batch catch-up);
otherwise it stays open, sends what is added, and a comment line every 15 s keeps proxies
from closing it. Positions never change: the log is only appended to.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import FastAPI, Header, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from services.regions.adapters import access
from services.regions.application import Regions, known_region, read_log
from shared.platform.auth import CurrentPrincipal
from shared.platform.commands import MAX_OFFSET, Code
from shared.platform.errors import CommandRejected
from shared.platform.http import service_api

PAGE = 500
POLL_SECONDS = 0.5
HEARTBEAT_SECONDS = 15.0
FEED_PORT = 8006

DESCRIPTION = (
    "En regions händelser som server-sent events, för en region som inte når Kafka-klustret. "
    "Samma kuvert som på `yrkesresan.region.<region_id>.v1`; återuppta med `Last-Event-ID` "
    "eller `?after=`. Se docs/regions.md.")


def _position(last_event_id: str | None) -> int:
    if last_event_id is None or not last_event_id.strip():
        return 0
    text = last_event_id.strip()
    if not text.isascii() or not text.isdigit() or int(text) > MAX_OFFSET:
        raise CommandRejected("Last-Event-ID ska vara en position i flödet (ett heltal ≥ 0).",
                              field="Last-Event-ID")
    return int(text)


async def _events(regions: Regions, region_id: str, after: int,
                  follow: bool) -> AsyncIterator[str]:
    yield "retry: 2000\n\n"
    position, quiet_since = after, time.monotonic()
    while True:
        rows = await run_in_threadpool(read_log, regions.db, region_id, position, PAGE)
        for row in rows:
            yield f"id: {row.position}\ndata: {row.envelope}\n\n"
            position = row.position
        if rows:
            quiet_since = time.monotonic()
            continue
        if not follow:
            return
        if time.monotonic() - quiet_since >= HEARTBEAT_SECONDS:
            yield ": keep-alive\n\n"
            quiet_since = time.monotonic()
        await asyncio.sleep(POLL_SECONDS)


def create_api(regions: Regions) -> FastAPI:
    api = service_api("Yrkesresan – regionflöde", DESCRIPTION,
                      health=lambda: {"ok": True, "service": "region-feed"})

    @api.get("/regions/{region_id}/events", tags=["regioner"], response_class=StreamingResponse,
             responses={200: {"content": {"text/event-stream": {}},
                              "description": "Regionens händelser, från positionen."}})
    async def region_events(
        region_id: Code, who: CurrentPrincipal,
        after: Annotated[int, Query(ge=0, le=MAX_OFFSET,
                                    description="Positionen att fortsätta efter.")] = 0,
        follow: Annotated[bool, Query(description="Håll svaret öppet för nya händelser.")]
        = True,
        last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=20)]
        = None,
    ) -> StreamingResponse:
        in_scope = access.read_feed(who)
        start = max(after, _position(last_event_id))
        in_scope(region_id, await run_in_threadpool(known_region, regions.db, region_id))
        return StreamingResponse(
            _events(regions, region_id, start, follow), media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    return api
