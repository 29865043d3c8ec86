"""Tokens: verified with the issuer's public keys from a JWKS (file here; a URL the same way
through PyJWT's client), `iss`, `aud`, `exp` required, keys picked and rotated by `kid`, claims
mapped to roles and scopes by configuration; the production start check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from shared.platform.auth import (
    InvalidToken,
    Principal,
    Role,
    Verifier,
    decode_token,
    jwks_of,
    service_token,
)
from shared.platform.keyring import Keyring
from shared.platform.production import platform_problems, refuse_unsafe_start
from shared.platform.settings import Settings
from tests.tokens import claims_of, mint, signed_by, with_old_secret

ADMIN = Principal(subject="anna", role=Role.MUNICIPAL_ADMIN, municipality_id="falun")


def _verifier(tmp_path: Path, *keys: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
              | ed25519.Ed25519PrivateKey, **settings: object) -> Verifier:
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(jwks_of(*keys)))
    v = Verifier.from_settings(Settings(auth_jwks=str(jwks), auth_issuer="https://idp.example",
                                        **settings))  # type: ignore[arg-type]
    v.keys.cooldown_duration = 0  # a new kid is looked up at once (the default waits 1 s)
    return v


def test_a_minted_token_carries_role_and_scope() -> None:
    assert decode_token(mint(ADMIN)) == ADMIN


def test_a_token_signed_with_the_old_development_secret_is_refused() -> None:
    with pytest.raises(InvalidToken, match="algoritmen 'HS256'"):
        decode_token(with_old_secret(ADMIN))


@pytest.mark.parametrize("key", [rsa.generate_private_key(65537, 2048),
                                 ec.generate_private_key(ec.SECP256R1()),
                                 ed25519.Ed25519PrivateKey.generate()],
                         ids=["RS256", "ES256", "EdDSA"])
def test_each_asymmetric_algorithm_verifies(tmp_path: Path, key: object) -> None:
    v = _verifier(tmp_path, key)  # type: ignore[arg-type]
    assert v.principal(signed_by(key, ADMIN, iss="https://idp.example")) == ADMIN  # type: ignore[arg-type]


def test_iss_aud_exp_are_required_and_checked(tmp_path: Path) -> None:
    key = rsa.generate_private_key(65537, 2048)
    v = _verifier(tmp_path, key)
    good = {"iss": "https://idp.example"}
    assert v.principal(signed_by(key, ADMIN, **good)) == ADMIN
    for bad in ({"iss": "https://other.example"}, {"iss": None}, {**good, "aud": "other"},
                {**good, "aud": None}, {**good, "exp": None}, {**good, "exp": 1},
                {**good, "sub": None}):
        with pytest.raises(InvalidToken):
            v.principal(signed_by(key, ADMIN, **bad))


def test_another_key_under_a_known_kid_or_an_unknown_kid_is_refused(tmp_path: Path) -> None:
    key, other = rsa.generate_private_key(65537, 2048), rsa.generate_private_key(65537, 2048)
    v = _verifier(tmp_path, key)
    from shared.platform.auth import key_id

    with pytest.raises(InvalidToken, match="Signature"):
        v.principal(signed_by(other, ADMIN, kid=key_id(key), iss="https://idp.example"))
    with pytest.raises(InvalidToken, match="kid"):
        v.principal(signed_by(other, ADMIN, iss="https://idp.example"))


def test_a_rotated_key_is_picked_up_by_its_kid_and_a_removed_one_refused(
        tmp_path: Path) -> None:
    old, new = rsa.generate_private_key(65537, 2048), rsa.generate_private_key(65537, 2048)
    v = _verifier(tmp_path, old)
    iss = {"iss": "https://idp.example"}
    assert v.principal(signed_by(old, ADMIN, **iss)) == ADMIN
    (tmp_path / "jwks.json").write_text(json.dumps(jwks_of(old, new)))  # the provider rotates
    assert v.principal(signed_by(new, ADMIN, **iss)) == ADMIN  # read again for the new kid
    (tmp_path / "jwks.json").write_text(json.dumps(jwks_of(new)))  # and retires the old one
    v.keys.jwk_set_cache.lifespan = 0.0  # type: ignore[union-attr]  # the cache expires
    with pytest.raises(InvalidToken):
        v.principal(signed_by(old, ADMIN, **iss))


def test_provider_claims_map_to_roles_and_scopes_by_configuration(tmp_path: Path) -> None:
    v = _verifier(tmp_path, rsa.generate_private_key(65537, 2048),
                  auth_role_claim="realm_access.roles",
                  auth_role_map={"kommunadmin": "municipal_admin"},
                  auth_municipality_claim="kommun")
    keycloak = {"sub": "f3a1", "realm_access": {"roles": ["offline_access", "kommunadmin"]},
                "kommun": "falun"}
    assert v.mapped(keycloak) == Principal(subject="f3a1", role=Role.MUNICIPAL_ADMIN,
                                           municipality_id="falun")
    for roles in ([], ["offline_access"], ["kommunadmin", "trainer"]):
        with pytest.raises(InvalidToken, match="roll"):
            v.mapped({**keycloak, "realm_access": {"roles": roles}})
    with pytest.raises(InvalidToken, match="omfång"):
        v.mapped({**keycloak, "kommun": ["falun", "mora"]})


def test_service_tokens_name_the_service_with_its_narrow_role() -> None:
    who = decode_token(service_token("notification"))
    assert (who.subject, who.role) == ("service:notification", Role.ADDRESS_READER)
    assert decode_token(service_token("certification")).role is Role.NAME_READER
    assert service_token("notification") == service_token("notification")  # reused


def test_claims_of_the_test_helper_match_what_mint_signs() -> None:
    assert claims_of(ADMIN)["municipality_id"] == "falun"


def test_a_production_start_names_everything_missing(monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("YRKESRESAN_AUTH_JWKS", "YRKESRESAN_AUTH_SIGNING_KEY_FILE"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("YRKESRESAN_ENV", "production")
    with pytest.raises(SystemExit) as exit_:
        refuse_unsafe_start("enrolment-api")
    assert exit_.value.code == 2
    line = capsys.readouterr().err
    assert line.count("\n") == 1
    for missing in ("YRKESRESAN_AUTH_ISSUER", "YRKESRESAN_AUTH_JWKS", "YRKESRESAN_KEYRING_FILE"):
        assert missing in line
    configured = Settings(env="production", auth_issuer="https://idp.example/realms/yr",
                          auth_jwks="https://idp.example/realms/yr/certs",
                          keyring=Keyring.generate().to_json())
    assert platform_problems(configured) == []
    assert len(platform_problems(configured, calls_services=True)) == 1
    dev = Settings(env="production", auth_issuer="https://idp.example",
                   auth_jwks="var/keys/auth-jwks.dev.json", keyring=Keyring.generate().to_json())
    assert platform_problems(dev) == ["YRKESRESAN_AUTH_JWKS is the development key set"]
    assert "the development keyring" in platform_problems(Settings(
        env="production", auth_issuer="https://idp.example", auth_jwks="https://idp.example/k",
        keyring_file="var/keys/keyring.dev.json"))[0]
    monkeypatch.setenv("YRKESRESAN_ENV", "development")
    refuse_unsafe_start("enrolment-api")  # returns


def test_a_relative_jwks_path_is_read_from_the_working_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`make run`'s default: `var/keys/...`, relative."""
    key = rsa.generate_private_key(65537, 2048)
    (tmp_path / "jwks.json").write_text(json.dumps(jwks_of(key)))
    monkeypatch.chdir(tmp_path)
    v = Verifier.from_settings(Settings(auth_jwks="jwks.json", auth_issuer="https://idp.example"))
    assert v.principal(signed_by(key, ADMIN, iss="https://idp.example")) == ADMIN


@pytest.mark.parametrize("token", ["", "a", "!!!.b.c", "€.x.y", "W10.x.y", "bnVsbA.x.y",
                                   "eyJhbGciOiJSUzI1NiJ9", "eyJhbGciOlsiUlMyNTYiXX0.e30.x",
                                   "W" * 3000 + ".x.y"])
def test_a_token_that_is_not_one_is_refused_not_a_crash(token: str) -> None:
    with pytest.raises(InvalidToken):
        decode_token(token)


def test_a_deeply_nested_header_is_refused_not_a_crash() -> None:
    import base64

    nested = base64.urlsafe_b64encode(b"[" * 5000 + b"]" * 5000).decode().rstrip("=")
    with pytest.raises(InvalidToken):
        decode_token(nested + ".x.y")


def test_the_dashboard_pages_need_an_oidc_client_and_no_development_sign_in(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from services.dashboard.application import _no_dev_signin

    for name in ("YRKESRESAN_OIDC_CLIENT_ID", "YRKESRESAN_OIDC_CLIENT_SECRET",
                 "YRKESRESAN_DASHBOARD_DEV_SIGNIN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("YRKESRESAN_OIDC_ISSUER", "https://idp.example/realms/yr")
    assert "no OpenID Connect client" in " ".join(_no_dev_signin())
    monkeypatch.setenv("YRKESRESAN_OIDC_CLIENT_ID", "yrkesresan-dashboard")
    monkeypatch.setenv("YRKESRESAN_OIDC_CLIENT_SECRET", "s3cret")
    assert _no_dev_signin() == []
    monkeypatch.setenv("YRKESRESAN_DASHBOARD_DEV_SIGNIN", "1")
    assert "DEV_SIGNIN" in " ".join(_no_dev_signin())


def test_a_token_verified_before_is_not_checked_again_until_it_expires_or_its_key_goes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The signature of a token a client sends with every request is checked once; the same
    token is refused when its exp passes, or when its key has left the JWKS and the key
    cache read the JWKS again, as a token checked afresh would be."""
    import time

    import jwt as pyjwt

    old, new = rsa.generate_private_key(65537, 2048), rsa.generate_private_key(65537, 2048)
    v = _verifier(tmp_path, old, new, auth_leeway_seconds=0)
    checks: list[str] = []
    decode = pyjwt.decode

    def counted(token: str, *args: object, **kwargs: object) -> object:
        checks.append(token)
        return decode(token, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pyjwt, "decode", counted)
    expires = int(time.time()) + 2
    token = signed_by(old, ADMIN, iss="https://idp.example", exp=expires)
    assert [v.principal(token) for _ in range(5)] == [ADMIN] * 5
    assert len(checks) == 1
    later = signed_by(new, ADMIN, iss="https://idp.example", exp=expires + 120)
    assert [v.principal(later) for _ in range(3)] == [ADMIN] * 3
    assert len(checks) == 2

    time.sleep(max(0.0, expires - time.time()) + 0.1)  # past the first one's exp
    with pytest.raises(InvalidToken):
        v.principal(token)
    assert len(checks) == 3  # checked afresh, and refused
    assert v.principal(later) == ADMIN and len(checks) == 3

    (tmp_path / "jwks.json").write_text(json.dumps(jwks_of(old)))  # `new` retired
    v.keys.jwk_set_cache.lifespan = 0.0  # type: ignore[union-attr]  # the cache expires
    with pytest.raises(InvalidToken):
        v.principal(later)
