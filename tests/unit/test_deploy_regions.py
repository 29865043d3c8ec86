"""deploy/: a region's principal is confined to its own stream and its own consumer groups.

The compose file is validated as in `test_deploy.py` (`docker-compose config`, no engine). The
ACL script is run for real with stand-ins for the Kafka tools that record what they are asked
to do, so the grants themselves are checked; no Apache Kafka can be run here (no Docker engine,
no Kafka distribution: ../shared/KAFKA.md).
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.unit.test_deploy import DEPLOY, services  # noqa: F401 - the fixture

SCRIPT = DEPLOY / "kafka" / "region-acls.sh"
REGIONS_EXAMPLE = DEPLOY / "regions.env.example"


def test_kafka_refuses_what_no_acl_allows_and_authenticates_regions_with_scram(
    services: dict[str, Any],  # noqa: F811
) -> None:
    env = {k: str(v) for k, v in services["kafka"]["environment"].items()}
    assert env["KAFKA_AUTHORIZER_CLASS_NAME"] == (
        "org.apache.kafka.metadata.authorizer.StandardAuthorizer")
    assert env["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"
    assert env["KAFKA_SUPER_USERS"] == "User:ANONYMOUS"  # the unpublished listeners only
    protocols = dict(p.split(":") for p in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    assert protocols == {"CONTROLLER": "PLAINTEXT", "PLAINTEXT": "PLAINTEXT",
                         "REGIONS": "SASL_PLAINTEXT"}
    assert "REGIONS://:9094" in env["KAFKA_LISTENERS"]
    assert env["KAFKA_SASL_ENABLED_MECHANISMS"] == "SCRAM-SHA-512"
    jaas = "/etc/kafka/server_jaas.conf"
    assert env["KAFKA_OPTS"] == f"-Djava.security.auth.login.config={jaas}"
    mounted = {v.split(":")[1]: v.split(":")[0] for v in services["kafka"]["volumes"]}
    assert "ScramLoginModule required" in Path(mounted[jaas]).read_text()
    # Only the SASL listener leaves the host's loopback; PLAINTEXT 9092 is not published.
    assert [p for p in services["kafka"]["ports"] if "9092" in str(p)] == []


def test_the_region_acls_job_runs_the_script_once_kafka_is_healthy(
    services: dict[str, Any],  # noqa: F811
) -> None:
    job = services["region-acls"]
    assert job["image"] == services["kafka"]["image"]
    assert job["restart"] == "no"
    assert job["depends_on"]["kafka"]["condition"] == "service_healthy"
    mounts = {v.split(":")[1]: v.split(":")[0] for v in job["volumes"]}
    assert Path(mounts["/opt/yrkesresan/region-acls.sh"]) == SCRIPT
    assert mounts["/etc/yrkesresan/regions.env"].endswith("deploy/regions.env")
    topics_job = services["topics"]["environment"]
    assert job["environment"]["REPLICATION_FACTOR"] == topics_job["REPLICATION_FACTOR"]
    assert job["environment"]["MIN_INSYNC_REPLICAS"] == topics_job["MIN_INSYNC_REPLICAS"]
    assert [*job["entrypoint"], *job["command"]] == [
        "/bin/bash", "/opt/yrkesresan/region-acls.sh", "/etc/yrkesresan/regions.env",
        "kafka:9092"]


def _run(tmp_path: Path, regions: str) -> tuple[subprocess.CompletedProcess[str], list[list[str]]]:
    """Run the script with recording stand-ins for kafka-topics/-configs/-acls.sh."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    calls = tmp_path / "calls"
    for tool in ("kafka-topics.sh", "kafka-configs.sh", "kafka-acls.sh"):
        stub = bin_dir / tool
        stub.write_text(f'#!/usr/bin/env bash\nprintf "%q " "{tool}" "$@" >> {calls}\n'
                        f'echo >> {calls}\n')
        stub.chmod(0o755)
    regions_file = tmp_path / "regions.env"
    regions_file.write_text(regions)
    result = subprocess.run(["bash", str(SCRIPT), str(regions_file), "kafka:9092"],
                            env={**os.environ, "KAFKA_BIN": str(bin_dir),
                                 "REPLICATION_FACTOR": "3", "MIN_INSYNC_REPLICAS": "2"},
                            capture_output=True, text=True, timeout=60)
    lines = calls.read_text().splitlines() if calls.exists() else []
    return result, [shlex.split(line) for line in lines if line.strip()]


def _option(call: list[str], name: str) -> list[str]:
    return [call[i + 1] for i, arg in enumerate(call) if arg == name]


def test_each_region_may_read_its_own_topic_and_group_prefix_and_nothing_else(
    tmp_path: Path,
) -> None:
    result, calls = _run(tmp_path, "# regions\nrss-dalarna=s3cretPasswordForDalarna\n\n"
                                   "rss-vast=an0therPasswordForVast  # comment\n")
    assert result.returncode == 0, result.stderr
    acls = [c for c in calls if c[0] == "kafka-acls.sh"]
    for region in ("rss-dalarna", "rss-vast"):
        user = f"User:region-{region}"
        mine = [c for c in acls if _option(c, "--allow-principal") == [user]]
        resources = sorted((tuple(_option(c, "--topic")), tuple(_option(c, "--group")),
                            tuple(_option(c, "--resource-pattern-type"))) for c in mine)
        assert resources == [
            ((), (f"region.{region}.",), ("prefixed",)),
            ((f"yrkesresan.region.{region}.v1",), (), ()),
        ]
        for c in mine:
            assert sorted(_option(c, "--operation")) == ["Describe", "Read"]
            assert "--add" in c and "--deny-principal" not in c
        scram = [c for c in calls if c[0] == "kafka-configs.sh"
                 and _option(c, "--entity-name") == [f"region-{region}"]]
        assert len(scram) == 1 and _option(scram[0], "--add-config")[0].startswith(
            "SCRAM-SHA-512=[iterations=8192,password=")
        topics = [c for c in calls if c[0] == "kafka-topics.sh"
                  and _option(c, "--topic") == [f"yrkesresan.region.{region}.v1"]]
        assert len(topics) == 1 and "--if-not-exists" in topics[0]
        assert _option(topics[0], "--config") == [  # replayable from the start
            "retention.ms=-1", "min.insync.replicas=2"]
        assert _option(topics[0], "--replication-factor") == ["3"]
    assert len(acls) == 4  # two per region, nothing for anyone else
    for c in acls:
        assert "*" not in " ".join(c) and "All" not in _option(c, "--operation")
        assert not {"Write", "Create", "Delete", "Alter"} & set(_option(c, "--operation"))
    assert all(_option(c, "--bootstrap-server") == ["kafka:9092"] for c in calls)


@pytest.mark.parametrize("bad", [
    "rss-dalarna=change-me-region-password\n",  # the example's placeholder
    "rss dalarna\n",  # no password
    "rss/../x=s3cretPasswordForDalarna\n",  # not a topic-safe id
    "rss-dalarna=short\n",
    "rss-dalarna=with]bracket,andcomma=x1234567\n",  # would break the SCRAM config syntax
])
def test_malformed_lines_and_placeholder_passwords_stop_the_script(
    tmp_path: Path, bad: str,
) -> None:
    result, calls = _run(tmp_path, bad)
    assert result.returncode == 2
    assert calls == []
    secret = bad.strip().partition("=")[2]
    assert not secret or secret not in result.stderr  # a password is never echoed


def test_the_regions_example_holds_placeholders_and_is_refused_as_it_is(tmp_path: Path) -> None:
    lines = [line for line in REGIONS_EXAMPLE.read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert lines and all(line.split("=", 1)[1].startswith("change-me") for line in lines)
    result, _ = _run(tmp_path, REGIONS_EXAMPLE.read_text())
    assert result.returncode == 2 and "placeholder" in result.stderr
