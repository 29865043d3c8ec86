"""`yrkesresan keys`: the keyring's ids, rotating a key, re-wrapping the data keys.

A rotation adds a new key to the keyring file and makes it current; the older keys stay.
Restart the processes to key new data with it. After rotating the key-encryption key,
`yrkesresan keys rewrap` wraps every person's data key under the new KEK (no event changes);
then `yrkesresan keys retire kek kek-1` removes the old KEK (refused while it still wraps a
key). After rotating the e-mail key, `yrkesresan keys retire email email-1` claims every held
address again under the current key and then removes the old one, so a registration no longer
looks under it.
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
        wrapped = service.vault.wrapped_by()
        # without a KEK here (it is handed to enrolment alone): how many each id wraps
        shown.setdefault("kek", {"current": None, "keys": []})["data_keys_wrapped_by"] = wrapped
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
    _writable(settings, purpose)
    ring = load_keyring(settings).rotated(purpose)
    write_keyring(keyring_path(settings), ring, settings)
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


@keys.command("retire")
def retire(
    purpose: Annotated[str, typer.Argument(help="email or kek")],
    key_id: Annotated[str, typer.Argument(help="the id of the key to remove, e.g. email-1")],
) -> None:
    """Remove an old key from the keyring once nothing needs it.

    email: every address an account holds under KEY_ID is claimed again under the current
    e-mail key first (new claim events; no recorded event changes), so an address registered
    before still cannot be registered twice; then the key leaves the file. kek: only once
    `keys rewrap` has left no data key wrapped by it. actor: refused (auditors recompute the
    pseudonyms recorded under it). Run it after every process has restarted with the rotated
    keyring; restart them again afterwards."""
    from services.enrolment import application as enrolment

    if purpose not in ("email", "kek"):
        typer.echo(f"{purpose} keys are not retired: the pseudonyms recorded under them are "
                   "recomputed by auditors with the key their id names", err=True)
        raise typer.Exit(2)
    settings = Settings()
    _writable(settings, purpose)
    ring = load_keyring(settings)
    if key_id == ring.sets[purpose].current or key_id not in ring.sets[purpose].keys:
        typer.echo(f"{key_id} is not an old {purpose} key of this keyring "
                   f"({', '.join(ring.sets[purpose].keys)}; current "
                   f"{ring.sets[purpose].current})", err=True)
        raise typer.Exit(2)
    service = enrolment.bootstrap(settings=settings)
    try:
        if purpose == "email":
            counts = service.rekey_email_claims(key_id, actor="system:keys-retire")
            typer.echo(f"{counts['participants']} participant and {counts['trainers']} trainer "
                       f"addresses claimed again under {ring.email.current} "
                       f"({counts['checked']} accounts read)")
        elif (left := service.vault.wrapped_by().get(key_id, 0)):
            typer.echo(f"{left} data keys are still wrapped by {key_id}: run "
                       "`yrkesresan keys rewrap` first", err=True)
            raise typer.Exit(1)
    finally:
        service.close()
    write_keyring(keyring_path(settings), ring.retired(purpose, key_id), settings)
    typer.echo(f"{purpose}: {key_id} removed (kept: "
               f"{', '.join(k for k in ring.sets[purpose].keys if k != key_id)}). "
               "Restart the processes.")


def _writable(settings: Settings, purpose: str) -> None:
    """The keys must be in a file this command can rewrite."""
    given = ("YRKESRESAN_KEK" if purpose == "kek" and settings.kek else
             "YRKESRESAN_KEYRING" if settings.keyring and not (
                 purpose == "kek" and settings.kek_file) else None)
    if given:
        typer.echo(f"the keys are given in {given}: change them where they are kept", err=True)
        raise typer.Exit(2)


def register(app: typer.Typer) -> None:
    app.add_typer(keys, name="keys")
