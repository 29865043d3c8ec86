"""Wiring of the dashboard: its database, its worker (faust) and its web application."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from services.dashboard.store import FiguresStore
from services.dashboard.stream import Worker
from shared.events import Envelope
from shared.platform import schema
from shared.platform.consumer import ProjectionRunner
from shared.platform.db import Database
from shared.platform.observability import configure_logging, serve_ops
from shared.platform.production import refuse_unsafe_start
from shared.platform.settings import Settings

log = logging.getLogger(__name__)

NAME = "dashboard"
WORKER_OPS_PORT = 8204
WEB_PORT = 8010


def database(settings: Settings | None = None) -> Database:
    url = (settings or Settings()).database_url_for(NAME)
    schema.require(NAME, url)
    return Database(url)


@dataclass
class Dashboard:
    """The figures' database and projector; `runner` is what the worker and `yrkesresan
    rebuild dashboard` feed."""

    db: Database
    figures: FiguresStore

    def runner(self) -> ProjectionRunner:
        return ProjectionRunner(self.figures, self.db)

    def close(self) -> None:
        self.db.close()


def bootstrap(url: str | None = None) -> Dashboard:
    url = url or Settings().database_url_for(NAME)
    schema.require(NAME, url)
    db = Database(url)
    return Dashboard(db, FiguresStore(db))


def migrate(url: str | None = None) -> None:
    """Bring the dashboard's database to this code's schema (`services/dashboard/migrations`)."""
    schema.upgrade(NAME, url or Settings().database_url_for(NAME))


def run_worker(ops_port: int | None = None, group_id: str | None = None,
               history: Callable[[], Iterable[Envelope]] | None = None) -> None:
    """The stream processor in the foreground: restores the figures from its database, then
    follows the bus. `/health` answers once it is following."""
    refuse_unsafe_start("dashboard-worker")
    settings = Settings()
    configure_logging("dashboard-worker", settings.log_level)
    runner = bootstrap(settings.database_url_for(NAME)).runner()
    runner.history = history  # a changed fold rebuilds from the stores
    runner.restore()
    restored = runner.applied.count()
    worker = Worker(runner, settings.kafka_bootstrap, group_id=group_id or "yrkesresan.dashboard",
                    datadir=settings.var_dir / "faust")
    serve_ops(settings.host, ops_port or WORKER_OPS_PORT,
              lambda: {"ok": True, "consumer": NAME, "restored": restored,
                       "applied": worker.applied})
    log.info("dashboard worker starting", extra={"restored": restored})
    worker.run(settings.log_level)


def serve_web(port: int | None = None) -> None:
    """The web application in the foreground (uvicorn)."""
    import uvicorn

    from services.dashboard.adapters.web import create_web
    from services.dashboard.store import FiguresReader

    refuse_unsafe_start("dashboard-web", extra=[_no_dev_signin])
    settings = Settings()
    configure_logging("dashboard-web", settings.log_level)
    web = create_web(FiguresReader(database(settings)))
    uvicorn.run(web, host=settings.host, port=port or web_port(), log_config=None,
                access_log=False)


def _no_dev_signin() -> list[str]:
    from services.dashboard.adapters.signin import SignInSettings

    sign_in = SignInSettings.from_environment()
    if sign_in.dev:
        return ["YRKESRESAN_DASHBOARD_DEV_SIGNIN=1 (anyone could pick a role) is set"]
    if not (sign_in.oidc and sign_in.client_secret):
        return ["no OpenID Connect client (YRKESRESAN_OIDC_CLIENT_ID, _OIDC_CLIENT_SECRET): "
                "nobody could sign in"]
    return []


def web_port() -> int:
    import os

    return int(os.environ.get("YRKESRESAN_DASHBOARD_PORT", WEB_PORT))
