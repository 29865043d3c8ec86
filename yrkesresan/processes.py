"""Every long-running process of the system, as functions the CLI (and `make run`) start."""

from __future__ import annotations

import gc
import importlib
import logging
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import uvicorn

from shared.platform.consumer import EnvelopeConsumer
from shared.platform.observability import configure_logging, serve_ops
from shared.platform.production import refuse_unsafe_start
from shared.platform.relay import Relay
from shared.platform.settings import SERVICE_PORTS, Settings
from shared.platform.store import ServiceApplication

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceSpec:
    migrate: Callable[[], None]
    api: Callable[[], Any]
    store: Callable[[], ServiceApplication]


def services() -> dict[str, ServiceSpec]:
    """Every service has the same shape: `application.migrate`, `application.bootstrap` and
    `adapters.http.create_api`, so one entry per name serves them all."""
    return {name: _spec(name) for name in SERVICE_PORTS}


def _spec(name: str) -> ServiceSpec:
    application = importlib.import_module(f"services.{name}.application")

    def api() -> Any:  # imported when wanted: the web stack is seconds of imports
        http = importlib.import_module(f"services.{name}.adapters.http")
        return http.create_api(application.bootstrap())

    return ServiceSpec(
        application.migrate,
        api,
        lambda: _store_of(application.bootstrap()),
    )


def _store_of(service: Any) -> ServiceApplication:
    """A service's bootstrap returns its store, or a wrapper holding it as `.app`."""
    store = getattr(service, "app", service)
    assert isinstance(store, ServiceApplication)
    return store


def _runner(service: str, which: str = "runner") -> Callable[[], Any]:
    def made() -> Any:
        owner = importlib.import_module(f"services.{service}.application").bootstrap()
        runner = getattr(owner, which)()
        runner.owner = owner  # closed with the runner (`ProjectionRunner.close`)
        return runner

    return made


def projections() -> dict[str, Callable[[], Any]]:
    """The consumers' runners by name, each bootstrapped by its service when started."""
    return {"progression": _runner("certification"),
            "certification": _runner("certification", "certification_runner"),
            "scheduling-registry": _runner("scheduling"),
            "enrolment-catalogue": _runner("enrolment"),
            "billing": _runner("billing")}


def rebuildable() -> dict[str, Callable[[], Any]]:
    """Every projection `yrkesresan rebuild` brings up to date from the stores: the
    consumers' (`projections`), and the two that their own processes feed from the bus, the
    same runner either way: the dashboard's figures (its faust worker) and the regions' logs
    (`yrkesresan consume regions`). A rebuild applies only what they miss: the regions' logs
    keep no snapshot, so they are never wiped by it and keep their positions (a region's feed
    resumes from one)."""
    return {**projections(), "dashboard": _runner("dashboard"), "regions": _runner("regions")}


# Every consumer, and the port of its `/health` and `/metrics` by default
# (`YRKESRESAN_<NAME>_CONSUMER_OPS_PORT` overrides it, `-` as `_`).
CONSUMER_OPS_PORTS = {"progression": 8200, "certification": 8201, "scheduling-registry": 8202,
                      "enrolment-catalogue": 8203, "regions": 8205, "billing": 8206}


@dataclass(frozen=True)
class Program:
    """One long-running process of `yrkesresan run`: the `yrkesresan` sub-command that starts
    it, with `{port}` (and any other placeholder named in `ports`) filled in from the
    environment variable named beside it, or its default; `/health` answers on `{port}`."""

    name: str
    args: tuple[str, ...]
    ports: dict[str, tuple[str, int]]  # placeholder -> (environment variable, default)
    health: str = "/health"


def _env_name(name: str) -> str:
    return name.upper().replace("-", "_")


def registry() -> list[Program]:
    """Every process `yrkesresan run` starts and supervises. A new process is one more line
    here (a new service or consumer comes from SERVICE_PORTS or CONSUMER_OPS_PORTS)."""
    def port(env: str, default: int) -> dict[str, tuple[str, int]]:
        return {"port": (f"YRKESRESAN_{env}", default)}

    return [
        *(Program(f"{s}-api", ("serve", s, "--port", "{port}"), port(f"{_env_name(s)}_PORT", p))
          for s, p in SERVICE_PORTS.items()),
        *(Program(f"{s}-relay", ("relay", s, "--ops-port", "{port}"),
                  port(f"{_env_name(s)}_RELAY_OPS_PORT", p + 100))
          for s, p in SERVICE_PORTS.items()),
        *(Program(f"{c}-consumer", ("consume", c, "--ops-port", "{port}"),
                  port(f"{_env_name(c)}_CONSUMER_OPS_PORT", p))
          for c, p in CONSUMER_OPS_PORTS.items()),
        Program("mailcatcher", ("mailcatcher", "--smtp-port", "{smtp}", "--http-port", "{port}"),
                {**port("MAILCATCHER_HTTP_PORT", 8025),
                 "smtp": ("YRKESRESAN_MAILCATCHER_SMTP_PORT", 1025)}, health="/"),
        Program("notification", ("notify", "--ops-port", "{port}"),
                port("NOTIFICATION_OPS_PORT", 8300)),
        Program("region-feed", ("region-feed", "--port", "{port}"), port("REGION_FEED_PORT", 8006)),
        Program("dashboard-worker", ("dashboard", "worker", "--ops-port", "{port}"),
                port("DASHBOARD_OPS_PORT", 8204)),
        Program("dashboard-web", ("dashboard", "web", "--port", "{port}"),
                port("DASHBOARD_PORT", 8010)),
    ]


def _on_sigterm(stop: Callable[[], None]) -> None:
    def handler(signum: int, _frame: Any) -> None:
        log.info("stopping", extra={"signal": signum})
        # What the process holds now is left to the exit: the interpreter's last garbage
        # collections traverse every object of the heap, seconds of CPU per process, and a
        # system stopping all its processes at once on two cores outran supervisord's stop
        # wait and was killed. Frozen objects are not traversed (they are freed all the same).
        gc.freeze()
        stop()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def migrate(names: list[str]) -> None:
    specs = services()
    for name in names:
        if name == "notification":
            from services.notification import application as notification

            notification.migrate()
        elif name == "dashboard":
            from services.dashboard import application as dashboard

            dashboard.migrate()
        elif name == "regions":
            from services.regions import application as regions_app

            regions_app.migrate()
        else:
            specs[name].migrate()


def _certification_keys() -> list[str]:
    from services.certification.keys import production_problems

    return production_problems()


def _key_encryption_keys() -> list[str]:
    """Enrolment opens personal data: it needs the KEK, in the keyring or apart from it
    (`YRKESRESAN_KEK_FILE`); the other processes may run without one."""
    from shared.platform.keyring import load_keyring

    try:
        load_keyring(Settings()).kek  # noqa: B018 (raises naming what is missing)
    except (OSError, ValueError, KeyError) as e:
        return [str(e)]
    return []


# What each process checks, beyond the platform's own, before a production start.
OWN_CHECKS: dict[str, list[Callable[[], list[str]]]] = {
    "enrolment-api": [_key_encryption_keys],
    "certification-api": [_certification_keys],
    "progression-consumer": [_certification_keys],
    "certification-consumer": [_certification_keys],
}
CALLS_SERVICES = {"certification-api", "notification"}  # they ask enrolment, with own tokens


def _startup_check(process: str) -> None:
    refuse_unsafe_start(process, calls_services=process in CALLS_SERVICES,
                        extra=OWN_CHECKS.get(process, []))


def serve(name: str, port: int | None = None, workers: int = 1) -> None:
    _startup_check(f"{name}-api")
    settings = Settings()
    configure_logging(f"{name}-api", settings.log_level)
    where: dict[str, Any] = {"host": settings.host, "port": port or settings.port_for(name),
             "log_config": None, "access_log": False}
    if workers == 1:
        uvicorn.run(services()[name].api(), **where)
        return
    # Several worker processes (one per core): uvicorn imports the app by name in each.
    os.environ["YRKESRESAN_SERVE_SERVICE"] = name
    # A worker that does not answer uvicorn's ping within the timeout is killed and replaced:
    # on a busy machine a starting worker needs more than the default 5 s.
    uvicorn.run("yrkesresan.processes:api_from_environment", factory=True, workers=workers,
                timeout_worker_healthcheck=30, **where)


def api_from_environment() -> Any:
    name = os.environ["YRKESRESAN_SERVE_SERVICE"]
    configure_logging(f"{name}-api", Settings().log_level)
    return services()[name].api()


def relay(name: str, ops_port: int | None = None) -> None:
    _startup_check(f"{name}-relay")
    settings = Settings()
    configure_logging(f"{name}-relay", settings.log_level)
    r = Relay(services()[name].store(), settings.kafka_bootstrap)
    # A standing-by instance is healthy: it is ready to take over.
    serve_ops(settings.host, ops_port or settings.port_for(name) + 100,
              lambda: {"ok": r.healthy or r.standing_by, "relay": r.name,
                       "position": r.position, "standing_by": r.standing_by})
    _on_sigterm(r.stop)
    r.run()


def consume(name: str, ops_port: int | None = None, group_id: str | None = None) -> None:
    _startup_check(f"{name}-consumer")
    if name == "regions":
        regions(ops_port, group_id)
        return
    settings = Settings()
    configure_logging(f"{name}-consumer", settings.log_level)
    from yrkesresan import stores

    runner = projections()[name]()
    runner.history = stores.history  # a changed fold rebuilds from the stores
    consumer = EnvelopeConsumer(runner, settings.kafka_bootstrap, group_id=group_id)
    serve_ops(settings.host, ops_port or CONSUMER_OPS_PORTS[name],
              lambda: {"ok": consumer.healthy or consumer.standing_by,
                       "consumer": runner.projector.name, "standing_by": consumer.standing_by,
                       "applied": runner.applied.count()})
    _on_sigterm(consumer.stop)
    consumer.run()


def regions(ops_port: int | None = None, group_id: str | None = None) -> None:
    """The regions' stream processor: routes the service topics into each region's log and
    publishes it to `yrkesresan.region.<region_id>.v1` (services/regions). Its own process,
    not a consumer of `projections`: it must read every enrolment partition before it routes
    (a rebuild from the stores, in recording order, need not: see `rebuildable`)."""
    import threading

    from services.regions import application as regions_app
    from services.regions.adapters.consumer import RegionConsumer
    from services.regions.adapters.publisher import RegionPublisher

    settings = Settings()
    configure_logging("regions", settings.log_level)
    service = regions_app.bootstrap()
    runner = service.runner()
    consumer = RegionConsumer(runner, settings.kafka_bootstrap,
                              group_id=group_id or regions_app.GROUP_ID)
    publisher = RegionPublisher(service.db, settings.kafka_bootstrap)
    # Each part holds a lease of its own; a part standing by is ready to take over.
    serve_ops(settings.host, ops_port or CONSUMER_OPS_PORTS["regions"],
              lambda: {"ok": ((consumer.healthy or consumer.standing_by)
                              and (publisher.healthy or publisher.standing_by)),
                       "consumer": "regions", "standing_by": consumer.standing_by,
                       "publisher_standing_by": publisher.standing_by,
                       "published": publisher.published,
                       "held": len(service.log.router.pending)})  # waiting for a fact

    def stop() -> None:
        consumer.stop()
        publisher.stop()

    _on_sigterm(stop)
    publishing = threading.Thread(target=publisher.run, name="region-publisher", daemon=True)
    publishing.start()
    try:
        consumer.run()
    finally:
        publisher.stop()
        publishing.join(timeout=30)
        service.close()


def region_feed(port: int | None = None) -> None:
    """The region feed: each region's log as server-sent events, scoped by the caller's
    region token (services/regions/adapters/http.py)."""
    from services.regions import application as regions_app
    from services.regions.adapters.http import create_api

    _startup_check("region-feed")
    settings = Settings()
    configure_logging("region-feed", settings.log_level)
    uvicorn.run(create_api(regions_app.bootstrap()), host=settings.host,
                port=port or region_feed_port(), log_config=None, access_log=False)


def region_feed_port() -> int:
    from services.regions.adapters.http import FEED_PORT

    return int(os.environ.get("YRKESRESAN_REGION_FEED_PORT", FEED_PORT))


def notify(ops_port: int | None = None, group_id: str | None = None) -> None:
    """The notification process: consumes the bus, sends e-mail when messages are due."""
    from services.notification import application as notification

    _startup_check("notification")
    settings = Settings()
    configure_logging("notification", settings.log_level)
    service = notification.bootstrap()
    runner = service.runner()
    consumer = EnvelopeConsumer(runner, settings.kafka_bootstrap, group_id=group_id)
    port = ops_port or service.settings.notification_ops_port
    log.info("notification process starting", extra={"ops_port": port})
    # No database read here: each health request runs on a thread of its own, and would open
    # (and keep) a connection of its own.
    serve_ops(settings.host, port,
              lambda: {"ok": consumer.healthy or consumer.standing_by,
                       "consumer": runner.projector.name, "standing_by": consumer.standing_by})
    _on_sigterm(consumer.stop)
    try:
        service.run(consumer)
    finally:
        service.close()


def mailcatcher(host: str, smtp_port: int, http_port: int) -> None:
    """A local SMTP server keeping what it receives, with a page listing it (local use)."""
    import threading

    from services.notification.adapters.mailcatcher import MailCatcher

    _startup_check("mailcatcher")
    configure_logging("mailcatcher", Settings().log_level)
    catcher = MailCatcher(host, smtp_port, http_port).start()
    stopping = threading.Event()
    _on_sigterm(stopping.set)
    log.info("mail catcher listening", extra={"smtp": f"{host}:{smtp_port}", "web": catcher.url})
    stopping.wait()
    catcher.stop()
