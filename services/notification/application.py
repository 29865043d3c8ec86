"""The notification process's wiring: configuration, `bootstrap()`, `migrate()`, and the
delivery round that turns due notices into e-mail.

One process consumes the bus (a `ProjectionRunner` over `NoticeProjector`) and, on the same
clock, makes reminders and summaries due and sends what is due. `now` is injectable for tests.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from prometheus_client import Counter
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.notification.adapters.directory import DirectoryUnavailable, EnrolmentDirectory
from services.notification.adapters.outbox import Due, Outbox, Recipients
from services.notification.adapters.smtp import TLS, SmtpMailer
from services.notification.messages import Context, Draft, Links, Skip, Wait, compose
from services.notification.policies import (
    SWEDEN,
    Kind,
    Notice,
    due_reminders,
    due_summaries,
)
from services.notification.projections.notices import NoticeProjector
from services.notification.render import email_of
from services.notification.summary import gather, render
from shared.platform import schema
from shared.platform.consumer import EnvelopeConsumer, ProjectionRunner
from shared.platform.db import Database
from shared.platform.settings import Settings

log = logging.getLogger(__name__)
Clock = Callable[[], dt.datetime]
MESSAGES = Counter("yrkesresan_messages_total", "Messages by kind and outcome",
                   ["kind", "outcome"])
WAIT_SECONDS = 30.0


class NotificationSettings(BaseSettings):
    """`YRKESRESAN_SMTP_HOST`, `YRKESRESAN_SMTP_PORT`, ... (see the README)."""

    model_config = SettingsConfigDict(env_prefix="YRKESRESAN_", extra="ignore")

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_tls: TLS = "none"
    smtp_user: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_timeout: float = 10
    mail_from: str = "Yrkesresan <noreply@yrkesresan.example.se>"
    enrolment_url: str = ""
    certificate_link: str = ""
    evaluation_link: str = ""
    reminder_days: int = Field(default=7, ge=1, le=60)
    settle_seconds: float = Field(default=3, ge=0)
    max_age_days: float = Field(default=14, gt=0)
    schedule_seconds: float = Field(default=60, gt=0)
    notification_ops_port: int = 8300

    def enrolment(self) -> str:
        return self.enrolment_url or f"http://127.0.0.1:{Settings().port_for('enrolment')}"

    def links(self) -> Links:
        """The links in messages; unset: certification's own address, on the port it is
        given (`YRKESRESAN_CERTIFICATION_PORT`), as `enrolment()` finds enrolment."""
        base = f"http://127.0.0.1:{Settings().port_for('certification')}"
        return Links(
            self.certificate_link or f"{base}/certificates/{{certificate_id}}/intyg.pdf",
            self.evaluation_link or f"{base}/participants/{{participant_id}}/evaluations")

    def mailer(self) -> SmtpMailer:
        return SmtpMailer(self.smtp_host, self.smtp_port, self.smtp_tls, self.smtp_user,
                          self.smtp_password.get_secret_value(), self.smtp_timeout)


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _ids(n: Notice) -> dict[str, str]:
    """What a log line may say about a message: its key, kind and ids (never an address)."""
    ids = {"key": n.key, "kind": n.kind.value, "participant_id": n.participant_id,
           "municipality_id": n.municipality_id, "occasion_id": n.occasion_id}
    return {k: v for k, v in ids.items() if v is not None}


def backoff(attempts: int) -> float:
    return float(min(5 * 2**attempts, 3600))


@dataclass
class Notification:
    settings: NotificationSettings
    db: Database
    projector: NoticeProjector
    outbox: Outbox
    recipients: Recipients
    directory: EnrolmentDirectory
    mailer: Callable[[], SmtpMailer]
    clock: Clock

    def runner(self) -> ProjectionRunner:
        return ProjectionRunner(self.projector, self.db)

    @cached_property
    def links(self) -> Links:
        """The links in messages, resolved from the settings once, not per message."""
        return self.settings.links()

    # -- time -------------------------------------------------------------------------------

    def schedule(self, now: dt.datetime | None = None) -> int:
        """Make due the reminders and weekly summaries whose time has come (once each)."""
        now = now or self.clock()
        with self.projector.lock:
            reminders = due_reminders(self.projector.facts, now, self.settings.reminder_days)
        summaries = due_summaries(self.recipients.all(), now)
        return self.outbox.add_now(reminders + summaries, now)

    # -- delivery ---------------------------------------------------------------------------

    def deliver_due(self, now: dt.datetime | None = None) -> int:
        """Send what is due; return how many messages went out."""
        now = now or self.clock()
        due = self.outbox.due(now)
        if not due:
            return 0
        sent = 0
        with self.mailer() as mailer:
            for item in due:
                sent += self._deliver(item, mailer, now)
        return sent

    def _deliver(self, due: Due, mailer: SmtpMailer, now: dt.datetime) -> bool:
        n = due.notice
        try:
            outcome, to, name = self._write(n, now)
            if isinstance(outcome, Wait):
                self.outbox.postpone(n, outcome.reason, now, WAIT_SECONDS)
                return False
            if isinstance(outcome, Skip):
                self.outbox.skipped(n, outcome.reason, now)
                MESSAGES.labels(n.kind.value, "skipped").inc()
                log.info("message not sent", extra={**_ids(n), "reason": outcome.reason})
                return False
            mailer.send(email_of(outcome, to, name, self.settings.mail_from, n.key, now))
        except (DirectoryUnavailable, smtplib.SMTPException, OSError) as e:
            # The exception's text may hold the address: only its type is logged.
            again = self.outbox.later(due, type(e).__name__, now, backoff(due.attempts))
            MESSAGES.labels(n.kind.value, "retry" if again else "failed").inc()
            log.warning("message not sent; will retry" if again else "message failed",
                        extra={**_ids(n), "error": type(e).__name__})
            return False
        self.outbox.sent(n, outcome.holding, now)
        MESSAGES.labels(n.kind.value, "sent").inc()
        log.info("message sent", extra=_ids(n))
        return True

    def _write(self, n: Notice, now: dt.datetime
               ) -> tuple[Draft | Skip | Wait, str, str | None]:
        """The message, its address and the name to greet (no lock held while asking
        enrolment)."""
        if n.kind is Kind.SUMMARY:
            return self._summary(n, now)
        assert n.participant_id is not None
        with self.projector.lock:
            outcome = compose(Context(self.projector.facts, now, self.outbox.held, self.links),
                              n)
        if not isinstance(outcome, Draft):
            return outcome, "", None
        person = self.directory.person(n.participant_id)
        if person is None:
            return Skip("ingen adress: kontot är raderat eller okänt"), "", None
        return outcome, person.email, person.name

    def _summary(self, n: Notice, now: dt.datetime
                 ) -> tuple[Draft | Skip | Wait, str, str | None]:
        assert n.municipality_id is not None and n.on is not None
        to = self.recipients.get(n.municipality_id)
        if to is None:
            return Skip("ingen mottagare för kommunen"), "", None
        today = now.astimezone(SWEDEN).date()
        with self.projector.lock:
            week = gather(self.projector.facts, n.municipality_id,
                          dt.date.fromisoformat(n.on), today)
        names = {}
        for pid in sorted(week.people()):
            person = self.directory.person(pid)
            names[pid] = person.name if person else None
        subject, body = render(week, names)
        return Draft(subject, body), to, None

    # -- running ----------------------------------------------------------------------------

    def run(self, consumer: EnvelopeConsumer, poll: float = 1.0) -> None:
        """Consume in a thread; schedule and deliver on this one until the consumer stops.
        Nothing is sent before the consumer has folded what it applied before (the facts a
        message is written from)."""
        failed: list[BaseException] = []

        def consume() -> None:
            try:
                consumer.run()
            except BaseException as e:
                failed.append(e)
                raise

        thread = threading.Thread(target=consume, name="notification-consumer", daemon=True)
        thread.start()
        last_schedule = 0.0
        while not consumer.stopping.wait(poll):
            if not thread.is_alive():
                cause = failed[0] if failed else None
                raise RuntimeError(f"the notification consumer stopped: {cause!r}") from cause
            if not consumer.healthy:
                continue
            now = self.clock()
            if now.timestamp() - last_schedule >= self.settings.schedule_seconds:
                self.schedule(now)
                last_schedule = now.timestamp()
            self.deliver_due(now)
        thread.join(timeout=30)

    def close(self) -> None:
        self.directory.close()
        self.db.close()


def bootstrap(
    database_url: str | None = None,
    *,
    settings: NotificationSettings | None = None,
    clock: Clock = now_utc,
    directory: EnrolmentDirectory | None = None,
) -> Notification:
    settings = settings or NotificationSettings()
    url = database_url or Settings().database_url_for("notification")
    schema.require("notification", url)
    db = Database(url)
    projector = NoticeProjector(clock, dt.timedelta(seconds=settings.settle_seconds),
                                dt.timedelta(days=settings.max_age_days))
    return Notification(
        settings, db, projector, Outbox(db), Recipients(db),
        directory or EnrolmentDirectory(settings.enrolment()), settings.mailer, clock)


def migrate(database_url: str | None = None) -> None:
    """Bring the process's database to this code's schema
    (`services/notification/migrations`)."""
    schema.upgrade("notification",
                   database_url or Settings().database_url_for("notification"))
