"""Services meet through the contract on the bus, not through each other's code: enrolment
learns the catalogue from `CoursePublished`, scheduling learns participants and trainers from
enrolment's events (ADR 0009). A service importing another one's modules fails here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SERVICES = Path(__file__).resolve().parents[2] / "services"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("service", ["enrolment", "scheduling", "certification"])
def test_a_service_imports_no_other_service(service: str) -> None:
    others = {p.name for p in SERVICES.iterdir() if p.is_dir() and p.name != service
              and not p.name.startswith("_")}
    crossing = sorted(
        f"{path.relative_to(SERVICES)}: {module}"
        for path in (SERVICES / service).rglob("*.py")
        for module in _imports(path)
        if module.split(".")[:2] in [["services", other] for other in others])
    assert crossing == []
