"""`yrkesresan idp link`: the Keycloak admin REST calls that put a minted id on a person's
provider account, against a recording stand-in for Keycloak's two endpoints (no Keycloak can
run here): the administrator signs in, the user is found by exact name, and the PUT keeps the
user's other attributes and adds the one claim."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from yrkesresan.idp_cmd import IdpSettings, LinkFailed, link

USER = {"id": "5f0c-kc-user", "username": "deltagare", "enabled": True,
        "attributes": {"municipality_id": ["falun"]}}


def keycloak(seen: list[httpx.Request], *, users: list[dict[str, Any]] | None = None,
             put_status: int = 204) -> httpx.Client:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        path = request.url.path
        if path.endswith("/protocol/openid-connect/token"):
            return httpx.Response(200, json={"access_token": "admin-token"})
        if request.method == "GET" and path == "/admin/realms/yrkesresan/users":
            return httpx.Response(200, json=[USER] if users is None else users)
        if request.method == "PUT" and path == f"/admin/realms/yrkesresan/users/{USER['id']}":
            return httpx.Response(put_status)
        return httpx.Response(404)

    return httpx.Client(base_url="http://kc", transport=httpx.MockTransport(handle))


def test_linking_sets_the_claim_attribute_and_keeps_the_others() -> None:
    seen: list[httpx.Request] = []
    s = IdpSettings(admin_url="http://kc", admin_user="admin", admin_password="pw")
    assert link(keycloak(seen), s, "deltagare", "participant_id", "0b8e-minted") == USER["id"]
    token, find, put = seen
    assert token.url.path == "/realms/master/protocol/openid-connect/token"
    assert b"grant_type=password" in token.content and b"client_id=admin-cli" in token.content
    assert find.url.params["username"] == "deltagare" and find.url.params["exact"] == "true"
    assert put.headers["authorization"] == "Bearer admin-token"
    assert json.loads(put.content)["attributes"] == {"municipality_id": ["falun"],
                                                     "participant_id": ["0b8e-minted"]}


def test_a_realm_client_may_sign_in_instead_of_the_bootstrap_administrator() -> None:
    seen: list[httpx.Request] = []
    s = IdpSettings(admin_url="http://kc", admin_client_id="linker", admin_client_secret="x")
    link(keycloak(seen), s, "deltagare", "trainer_id", "t-1")
    assert seen[0].url.path == "/realms/yrkesresan/protocol/openid-connect/token"
    assert b"grant_type=client_credentials" in seen[0].content


@pytest.mark.parametrize(("users", "put_status"), [([], 204), ([{**USER, "username": "x"}], 204),
                                                   (None, 403)])
def test_an_unknown_user_or_a_refused_change_is_said_so(users: list[dict[str, Any]] | None,
                                                        put_status: int) -> None:
    s = IdpSettings(admin_url="http://kc", admin_user="admin", admin_password="pw")
    with pytest.raises(LinkFailed):
        link(keycloak([], users=users, put_status=put_status), s, "deltagare",
             "participant_id", "p")
