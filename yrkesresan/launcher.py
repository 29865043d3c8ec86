"""Starts the whole system as separate processes, the way production runs it: broker, one API
and one relay per service, and the progression consumer. Used by `make run` and the e2e tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

from shared.platform.auth import Principal, Role, issue_token
from shared.platform.broker import LocalBroker
from shared.platform.settings import SERVICE_PORTS, Settings

SERVICES = tuple(SERVICE_PORTS)


class System:
    """A set of child processes sharing one environment; stopped together."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = {**os.environ, **env}
        self.log_dir = log_dir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        log_dir.mkdir(parents=True, exist_ok=True)

    def cli(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "yrkesresan", *args]

    def start(self, name: str, args: Sequence[str]) -> subprocess.Popen[bytes]:
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child
        proc = subprocess.Popen(self.cli(*args), env=self.env, stdout=log,
                                stderr=subprocess.STDOUT)
        self.procs[name] = proc
        return proc

    def migrate(self) -> None:
        subprocess.run(self.cli("migrate"), env=self.env, check=True,
                       stdout=subprocess.DEVNULL)

    def start_all(self) -> None:
        for service in SERVICES:
            self.start_api(service)
            self.start_relay(service)
        self.start_consumer()

    def port(self, service: str) -> int:
        own = self.env.get(f"YRKESRESAN_{service.upper()}_PORT")
        return int(own) if own else SERVICE_PORTS[service]

    def ops_port(self, name: str, default: int) -> int:
        return int(self.env.get(f"YRKESRESAN_{name.upper()}_OPS_PORT", default))

    def start_api(self, service: str) -> subprocess.Popen[bytes]:
        return self.start(f"{service}-api", ["serve", service, "--port", str(self.port(service))])

    def start_relay(self, service: str) -> subprocess.Popen[bytes]:
        ops = self.ops_port(f"{service}_relay", self.port(service) + 100)
        return self.start(f"{service}-relay", ["relay", service, "--ops-port", str(ops)])

    def start_consumer(self) -> subprocess.Popen[bytes]:
        ops = self.ops_port("progression_consumer", 8200)
        return self.start("progression-consumer",
                          ["consume", "progression", "--ops-port", str(ops)])

    def urls(self, host: str = "127.0.0.1") -> dict[str, str]:
        return {s: f"http://{host}:{self.port(s)}" for s in SERVICES}

    def wait_healthy(self, urls: Sequence[str], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        for url in urls:
            while True:
                for name, proc in self.procs.items():
                    if proc.poll() is not None:
                        raise RuntimeError(f"{name} exited with {proc.returncode}; see "
                                           f"{self.log_dir / (name + '.log')}")
                try:
                    if httpx.get(url, timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{url} did not become healthy")
                time.sleep(0.2)

    def kill(self, name: str, sig: int) -> None:
        proc = self.procs.pop(name)
        proc.send_signal(sig)
        proc.wait(timeout=30)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.procs.clear()


def load_demo(enrolment_url: str, participants: int = 12) -> list[str]:
    """A region, three municipalities and some participant accounts, through the API."""
    system = issue_token(Principal(subject="demo", role=Role.SYSTEM))
    headers = {"Authorization": f"Bearer {system}"}
    with httpx.Client(base_url=enrolment_url, headers=headers, timeout=10) as http:
        http.post("/regions", json={"region_id": "rss-dalarna", "name": "RSS Dalarna"})
        municipalities = {"falun": "Falun", "borlange": "Borlänge", "mora": "Mora"}
        for mid, name in municipalities.items():
            http.post("/municipalities",
                      json={"municipality_id": mid, "name": name, "region_id": "rss-dalarna"})
        ids = []
        roles = ["socialsekreterare"] * 3 + ["arbetsledare"]
        for i in range(participants):
            mid = list(municipalities)[i % 3]
            r = http.post("/participants", json={
                "municipality_id": mid, "name": f"Demodeltagare {i + 1}",
                "email": f"demo{i + 1}@{mid}.example.se", "role": roles[i % 4],
                "years_in_profession": (i * 1.3) % 8, "participant_id": f"demo-p{i + 1:03d}"})
            if r.status_code == 201:
                ids.append(r.json()["participant_id"])
        return ids


TRY = """Try:
  TOKEN=$(.venv/bin/yrkesresan token --role municipal_admin --municipality falun)
  curl -s -X POST {enrolment}/participants -H "Authorization: Bearer $TOKEN" \\
    -H 'Content-Type: application/json' -d '{{"municipality_id": "falun", "name": "Ny Person",
    "email": "ny.person@falun.example.se", "role": "socialsekreterare", "years_in_profession": 1}}'
  curl -s {certification}/progression/<participant_id> -H "Authorization: Bearer $TOKEN"
"""


def run_system(demo: bool = True, broker_port: int = 9092) -> None:
    settings = Settings()
    var = settings.var_dir.resolve()
    broker = LocalBroker(broker_port, log_file=var / "logs" / "broker.log")
    (var / "logs").mkdir(parents=True, exist_ok=True)
    broker.start()
    system = System({"KAFKA_BOOTSTRAP": broker.bootstrap}, var / "logs")
    urls = system.urls()
    try:
        system.migrate()
        system.start_all()
        system.wait_healthy([f"{u}/health" for u in urls.values()])
        print("Yrkesresan is running (embedded defaults: SQLite under var/, broker "
              f"{broker.bootstrap}). Logs: {var / 'logs'}")
        for service, url in urls.items():
            print(f"  {service:<14} {url}/docs")
        if demo:
            ids = load_demo(urls["enrolment"])
            print(f"Demo data: region rss-dalarna, 3 municipalities, {len(ids)} new participants.")
        print(TRY.format(enrolment=urls["enrolment"], certification=urls["certification"]))
        print("Press Ctrl-C to stop.")
        while all(p.poll() is None for p in system.procs.values()):
            time.sleep(1)
        dead = [n for n, p in system.procs.items() if p.poll() is not None]
        print(f"stopping: {', '.join(dead)} exited; see {var / 'logs'}")
    except KeyboardInterrupt:
        print("stopping")
    finally:
        system.stop()
        broker.stop()
