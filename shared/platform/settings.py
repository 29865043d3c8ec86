"""Configuration from the environment (pydantic-settings).

Embedded default: SQLite files under `var/` and the local broker on 127.0.0.1:9092. Set
`YRKESRESAN_DATABASE_URL` (or a per-service `YRKESRESAN_<SERVICE>_DATABASE_URL`) to a
`postgresql://` URL for PostgreSQL, and `KAFKA_BOOTSTRAP` for another broker.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from urllib.parse import unquote, urlparse

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.platform.ports import SERVICE_PORTS

__all__ = ["SERVICE_PORTS", "Settings", "current_settings", "eventsourcing_env", "sqlite_path"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="YRKESRESAN_", extra="ignore")

    database_url: str = ""
    var_dir: Path = Path("var")
    kafka_bootstrap: str = Field(default="127.0.0.1:9092", validation_alias="KAFKA_BOOTSTRAP")
    # `production` makes every process refuse to start without its issuer and keys
    # (`shared.platform.production`); anything else is development.
    env: str = "development"
    # The e-mail, pseudonym and key-encryption keys (`shared.platform.keyring`): a JSON file
    # kept apart from the databases, or its content; unset: `var/keys/keyring.dev.json`.
    keyring_file: str = ""
    keyring: str = ""
    # The key-encryption keys apart from the rest (`{"current": ..., "keys": {...}}`): a secret
    # mounted into the processes that open personal data (enrolment), or its content; they
    # replace the keyring's `kek`. Unset: the keyring's own.
    kek_file: str = ""
    kek: str = ""
    # Bearer tokens (`shared.platform.auth`): who issues them, for whom, and where the issuer's
    # public keys are (a JWKS URL or file). Empty issuer and JWKS: the local development key
    # pair under `var/keys/`, which `yrkesresan token` signs with.
    auth_issuer: str = ""
    auth_audience: str = "yrkesresan"
    auth_jwks: str = ""
    auth_jwks_lifespan: float = Field(default=300, gt=0)
    auth_algorithms: list[str] = ["RS256", "ES256", "EdDSA"]
    auth_leeway_seconds: int = Field(default=30, ge=0)
    auth_signing_key_file: str = ""
    # Which claims carry the role and the scopes. The role claim may be a dotted path and may
    # hold a list (Keycloak: `realm_access.roles`); exactly one of its values must name a role,
    # directly or through `auth_role_map` (the provider's name -> ours).
    auth_role_claim: str = "role"
    auth_role_map: dict[str, str] = {}
    auth_municipality_claim: str = "municipality_id"
    auth_region_claim: str = "region_id"
    auth_participant_claim: str = "participant_id"
    auth_trainer_claim: str = "trainer_id"
    # Service-to-service tokens from the provider (OAuth 2 client credentials), for the
    # processes that call another service; without them, signed with the development key.
    auth_token_url: str = ""
    auth_client_id: str = ""
    auth_client_secret: str = ""
    host: str = "127.0.0.1"
    log_level: str = "INFO"
    # Where the PDFs' TrueType fonts (DejaVu) are (`shared/platform/pdf_fonts.py`); unset: the
    # usual system folders (Debian's fonts-dejavu-core).
    pdf_font_dir: str = ""
    # What one request may carry (`shared/platform/limits.py`): a JSON body, an uploaded file
    # (multipart), and the data rows of one CSV file.
    max_json_bytes: int = Field(default=1_000_000, ge=1)
    max_upload_bytes: int = Field(default=10_000_000, ge=1)
    max_csv_rows: int = Field(default=20_000, ge=1)
    # The topics this system creates (`shared/platform/broker.py`): partitions, replication and
    # how many replicas must hold a write (with acks=all) before it is acknowledged. Locally one
    # broker; deploy/ runs three, replication 3 with 2 in sync.
    topic_partitions: int = Field(default=3, ge=1)
    topic_replication_factor: int = Field(default=1, ge=1)
    topic_min_insync_replicas: int = Field(default=1, ge=1)
    # How long a consumer lets the broker hold a fetch for records (`fetch_max_wait_ms`; every
    # consumer group of the project, the dashboard's faust worker too). Apache Kafka answers a
    # fetch as soon as a record is there (fetch_min_bytes 1), so there this only spaces an
    # idle consumer's requests; the local broker (tansu) holds each fetch the whole wait even
    # when records arrive meanwhile, so there a record waits up to this long before a consumer
    # sees it. The clients' own default is 500 ms; bench/progression.py measures the choice.
    fetch_max_wait_ms: int = Field(default=100, ge=1, le=10_000)

    @property
    def production(self) -> bool:
        return self.env.strip().lower() == "production"

    def database_url_for(self, service: str) -> str:
        """The database of one service: its own override, else the shared URL, else SQLite."""
        own = os.environ.get(f"YRKESRESAN_{service.upper()}_DATABASE_URL", "")
        return own or self.database_url or f"sqlite:///{self.var_dir / service}.sqlite"

    def port_for(self, service: str) -> int:
        own = os.environ.get(f"YRKESRESAN_{service.upper()}_PORT")
        return int(own) if own else SERVICE_PORTS[service]


@functools.cache
def current_settings() -> Settings:
    """The process's settings, read once: building `Settings()` reads the environment and
    costs about 140 us, too much for every request's token check."""
    return Settings()


def sqlite_path(url: str) -> str:
    """`sqlite:///var/x.sqlite` is relative, `sqlite:////tmp/x.sqlite` absolute (as SQLAlchemy
    reads them); the parent folder is created."""
    path = unquote(urlparse(url).path)
    path = path[1:] if path.startswith("/") else path
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return path


def eventsourcing_env(url: str, *, create_table: bool = False) -> dict[str, str]:
    """Translate a database URL into the `eventsourcing` library's environment."""
    parsed = urlparse(url)
    flag = "y" if create_table else "n"
    if parsed.scheme == "sqlite":
        path = sqlite_path(url)
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "APPLICATION_RECORDER_TOPIC": "shared.platform.store:SQLiteRecorder",
            "SQLITE_DBNAME": path,
            "SQLITE_LOCK_TIMEOUT": "10",
            "CREATE_TABLE": flag,
        }
    if parsed.scheme in ("postgresql", "postgres"):
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "APPLICATION_RECORDER_TOPIC": "shared.platform.store:PostgresRecorder",
            "POSTGRES_DBNAME": parsed.path.lstrip("/"),
            "POSTGRES_HOST": parsed.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(parsed.port or 5432),
            "POSTGRES_USER": unquote(parsed.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(parsed.password or ""),
            # Connections each store opens at once (more on demand); the test suite sets fewer,
            # since many suites share one server's connection limit.
            "POSTGRES_POOL_SIZE": os.environ.get("YRKESRESAN_DB_POOL_SIZE", "5"),
            "POSTGRES_LOCK_TIMEOUT": "10",
            "CREATE_TABLE": flag,
        }
    raise ValueError(f"unsupported database URL scheme {parsed.scheme!r} in {url!r}")
