"""`yrkesresan idp link`: tie a person's account at the identity provider to the id enrolment
minted for them, so that their token carries it.

A participant's or trainer's token must say whose account it is: the mapping reads the
`participant_id` / `trainer_id` claim (`YRKESRESAN_AUTH_PARTICIPANT_CLAIM`, ...), which Keycloak
fills from the user attribute of the same name (deploy/keycloak). Enrolment mints the id when
the municipality registers the person (`POST /participants`, `POST /trainers`); this command
then sets the attribute on the person's Keycloak user, through Keycloak's admin REST API, after
checking that enrolment knows the id. The person's other attributes are kept; the user cannot
change it (the realm's user profile lets administrators only edit it).

Configuration: `YRKESRESAN_IDP_ADMIN_URL` (Keycloak's base URL, e.g. `http://keycloak:8080`),
`YRKESRESAN_IDP_REALM` (default `yrkesresan`), and an administrator allowed to manage users:
`YRKESRESAN_IDP_ADMIN_USER` / `YRKESRESAN_IDP_ADMIN_PASSWORD` (password grant of `admin-cli` in
the `master` realm, Keycloak's bootstrap administrator), or a confidential client of the realm
with `realm-management` `manage-users` (`YRKESRESAN_IDP_ADMIN_CLIENT_ID` / `_CLIENT_SECRET`).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

import httpx
import typer
from pydantic_settings import BaseSettings, SettingsConfigDict

idp = typer.Typer(no_args_is_help=True,
                  help="The identity provider: link a person's login to their minted id.")

KINDS = {"participant": "participant_id", "trainer": "trainer_id"}


class IdpSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="YRKESRESAN_IDP_", extra="ignore")

    admin_url: str = ""
    realm: str = "yrkesresan"
    admin_user: str = ""
    admin_password: str = ""
    admin_client_id: str = ""
    admin_client_secret: str = ""


class LinkFailed(Exception):
    """The provider refused or does not know the user; the message says which."""


def admin_token(http: httpx.Client, s: IdpSettings) -> str:
    if s.admin_client_id:
        realm, form = s.realm, {"grant_type": "client_credentials",
                                "client_id": s.admin_client_id,
                                "client_secret": s.admin_client_secret}
    else:
        realm, form = "master", {"grant_type": "password", "client_id": "admin-cli",
                                 "username": s.admin_user, "password": s.admin_password}
    r = http.post(f"/realms/{realm}/protocol/openid-connect/token", data=form)
    if r.status_code != 200:
        raise LinkFailed(f"the provider refused the administrator's sign-in ({r.status_code})")
    return str(r.json()["access_token"])


def link(http: httpx.Client, s: IdpSettings, username: str, claim: str, value: str) -> str:
    """Set attribute `claim` = `value` on user `username`, keeping the others; returns the
    user's id (the tokens' `sub`)."""
    headers = {"Authorization": f"Bearer {admin_token(http, s)}"}
    users = f"/admin/realms/{quote(s.realm, safe='')}/users"
    r = http.get(users, params={"username": username, "exact": "true"}, headers=headers)
    found = [u for u in (r.json() if r.status_code == 200 else [])
             if u.get("username") == username.lower()]
    if r.status_code != 200 or not found:
        raise LinkFailed(f"no user {username!r} in realm {s.realm} ({r.status_code})")
    user: dict[str, Any] = found[0]
    attributes = dict(user.get("attributes") or {})
    attributes[claim] = [value]
    r = http.put(f"{users}/{quote(user['id'], safe='')}", headers=headers,
                 json={**user, "attributes": attributes})
    if r.status_code not in (200, 204):
        raise LinkFailed(f"the provider refused the change ({r.status_code}): {r.text[:200]}")
    return str(user["id"])


def _known(kind: str, minted: str) -> bool:
    from services.enrolment import application as enrolment

    service = enrolment.bootstrap()
    try:
        found = (service.find_participant(minted) if kind == "participant"
                 else service.find_trainer(minted))
        return found is not None and not getattr(found, "erased", False)
    finally:
        service.close()


@idp.command("link")
def link_command(
    kind: Annotated[str, typer.Argument(help="participant or trainer")],
    username: Annotated[str, typer.Argument(help="the person's user name at the provider")],
    minted: Annotated[str, typer.Argument(help="the id enrolment returned at registration")],
) -> None:
    """Put the id enrolment minted for a participant or trainer on their provider account, so
    their tokens carry it (claim `participant_id` / `trainer_id`)."""
    if kind not in KINDS:
        raise typer.BadParameter(f"choose one of {', '.join(KINDS)}")
    s = IdpSettings()
    if not s.admin_url:
        typer.echo("YRKESRESAN_IDP_ADMIN_URL is not set (Keycloak's base URL)", err=True)
        raise typer.Exit(2)
    if not _known(kind, minted):
        typer.echo(f"enrolment has no active {kind} {minted}: register the person first",
                   err=True)
        raise typer.Exit(1)
    with httpx.Client(base_url=s.admin_url.rstrip("/"), timeout=10) as http:
        try:
            subject = link(http, s, username, KINDS[kind], minted)
        except (LinkFailed, httpx.HTTPError) as e:
            typer.echo(f"not linked: {e}", err=True)
            raise typer.Exit(1) from None
    typer.echo(f"{username} (sub {subject}): {KINDS[kind]} = {minted}; their next token "
               "carries it")


def register(app: typer.Typer) -> None:
    app.add_typer(idp, name="idp")
