"""Development key files under `var/keys/`: created once, readable by their owner only.

A development key's file name ends in `.dev.<ext>`, so that a production start can tell one
(`shared.platform.production`) whichever setting points at it.
"""

from __future__ import annotations

import os
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
    """The file's bytes, written first from `make()` when missing (atomically: processes
    start together, and the first one's key wins)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(make())
        tmp.chmod(0o600)
        try:
            os.link(tmp, path)  # fails if another process won the race: then use theirs
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_bytes()
