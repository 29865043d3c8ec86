"""`yrkesresan keys`: the keyring's ids, rotating a key, re-wrapping the data keys.

A rotation adds a new key to the keyring file and makes it current; the older keys stay.
Restart the processes to key new data with it. After rotating the key-encryption key,
`yrkesresan keys rewrap` wraps every person's data key under the new KEK (no event changes);
then the old KEK opens nothing any more and may be removed from the file.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from shared.platform.keyring import (
    PURPOSES,
    Keyring,
    describe,
    keyring_path,
    load_keyring,
    write_keyring,
)
from shared.platform.settings import Settings

keys = typer.Typer(no_args_is_help=True,
                   help="The keyring: e-mail, pseudonym and key-encryption keys.")


@keys.command("new")
def new() -> None:
    """Print a new keyring (one random key per purpose) for a deployment's secret store."""
    typer.echo(Keyring.generate().to_json())


@keys.command("show")
def show() -> None:
    """The keyring's key ids per purpose, the current ones, and how many data keys each KEK
    wraps (never a key)."""
    from services.enrolment import application as enrolment

    settings = Settings()
    shown = describe(load_keyring(settings))
    service = enrolment.bootstrap(settings=settings)
    try:
        shown["kek"]["data_keys_wrapped_by"] = service.vault.wrapped_by()
    finally:
        service.close()
    typer.echo(json.dumps(shown, indent=2))


@keys.command("rotate")
def rotate(purpose: Annotated[str, typer.Argument(help=", ".join(PURPOSES))]) -> None:
    """Add a new key for PURPOSE to the keyring file and make it current."""
    if purpose not in PURPOSES:
        raise typer.BadParameter(f"unknown purpose {purpose!r}; choose one of "
                                 f"{', '.join(PURPOSES)}")
    settings = Settings()
    if settings.keyring:
        typer.echo("the keyring is given in YRKESRESAN_KEYRING: rotate it where it is kept",
                   err=True)
        raise typer.Exit(2)
    ring = load_keyring(settings).rotated(purpose)
    write_keyring(keyring_path(settings), ring)
    typer.echo(f"{purpose}: {ring.sets[purpose].current} is current "
               f"(kept: {', '.join(ring.sets[purpose].keys)}). Restart the processes"
               + ("; then run `yrkesresan keys rewrap`." if purpose == "kek" else "."))


@keys.command("rewrap")
def rewrap() -> None:
    """Wrap every data key under the current key-encryption key (after `rotate kek`)."""
    from services.enrolment import application as enrolment

    service = enrolment.bootstrap()
    try:
        done = service.vault.rewrap()
        typer.echo(f"{done} data keys re-wrapped under {service.keys.kek.current}; "
                   f"now: {service.vault.wrapped_by()}")
    finally:
        service.close()


def register(app: typer.Typer) -> None:
    app.add_typer(keys, name="keys")
