"""Development key files under `var/keys/`: created once, readable by their owner only.

A development key's file name ends in `.dev.<ext>`, so that a production start can tell one
(`shared.platform.production`) whichever setting points at it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from shared.platform.settings import Settings


def keys_dir(settings: Settings | None = None) -> Path:
    folder = (settings or Settings()).var_dir / "keys"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def is_development_key(path: str | Path) -> bool:
    return ".dev." in Path(path).name


def dev_file(path: Path, make: Callable[[], bytes]) -> bytes:
    """The file's bytes, written first from `make()` when missing (atomically: processes,
    and the threads of one API answering its first requests, start together, and the first
    one's key wins). Each writer has a temporary file of its own, created readable by its owner
    only: one named after the process alone was renamed away under a second thread of it."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f"{path.name}.", suffix=".tmp")
        tmp = Path(name)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(make())
            os.link(tmp, path)  # fails if another writer won the race: then use theirs
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_bytes()
