"""Development key files: made once, whoever asks first, however many ask at once."""

from __future__ import annotations

import stat
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from shared.platform.keyfiles import dev_file


def test_threads_of_one_process_asking_at_once_all_get_the_one_key(tmp_path: Path) -> None:
    """An API's first requests, answered on threads of one process, each find the keyring
    missing: one key is written and every thread reads that one (a temporary file named after
    the process alone was renamed away under a second thread: FileNotFoundError, a 500)."""
    path = tmp_path / "keys" / "keyring.dev.json"
    together = threading.Barrier(8)

    def make() -> bytes:
        name = threading.current_thread().name
        together.wait(timeout=10)  # every thread past the check, writing at once
        return name.encode()

    with ThreadPoolExecutor(8) as pool:
        keys = list(pool.map(lambda _: dev_file(path, make), range(8)))

    assert set(keys) == {path.read_bytes()}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left
