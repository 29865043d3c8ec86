"""`yrkesresan notification ...`: who receives each municipality's weekly summary.

Enrolment has no administrator accounts (the identity provider knows the administrators), so
each municipality names one recipient address here, typically a function mailbox that reaches
its Yrkesresan administrators (docs/decisions/0012). Run on a host with access to the
notification database (`YRKESRESAN_NOTIFICATION_DATABASE_URL`, else `YRKESRESAN_DATABASE_URL`,
else SQLite under `var/`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from services.notification.adapters.outbox import Recipients

ADDRESS = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")

sub = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="Notification: recipients of the weekly summaries.")
recipient = typer.Typer(no_args_is_help=True, add_completion=False,
                        help="The weekly summary's recipient per municipality.")
sub.add_typer(recipient, name="recipient")


def _recipients() -> Recipients:
    from services.notification.adapters.outbox import Recipients
    from shared.platform.db import Database
    from shared.platform.settings import Settings

    return Recipients(Database(Settings().database_url_for("notification")))


def _checked_email(value: str) -> str:
    if not ADDRESS.fullmatch(value.strip()):
        raise typer.BadParameter("ogiltig e-postadress")
    return value.strip()


@recipient.command("set")
def set_recipient(
    municipality: Annotated[str, typer.Argument(help="municipality_id")],
    email: Annotated[str, typer.Argument(callback=_checked_email)],
) -> None:
    """Send the municipality's weekly summary to this address (replaces the one set)."""
    _recipients().set(municipality, email)
    typer.echo(f"{municipality}: recipient set")


@recipient.command("remove")
def remove_recipient(municipality: Annotated[str, typer.Argument()]) -> None:
    """Send the municipality no more summaries."""
    removed = _recipients().remove(municipality)
    typer.echo(f"{municipality}: {'removed' if removed else 'had no recipient'}")


@recipient.command("list")
def list_recipients() -> None:
    """Every municipality with a recipient, one per line."""
    for municipality, email in sorted(_recipients().all().items()):
        typer.echo(f"{municipality}\t{email}")


def register(app: typer.Typer) -> None:
    app.add_typer(sub, name="notification")
