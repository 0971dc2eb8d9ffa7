"""The architecture as a test: imports point one way only."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def imports_of(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
        found[str(path.relative_to(ROOT))] = names
    return found


def offenders(package: str, forbidden: tuple[str, ...]) -> list[str]:
    return sorted(
        f"{path}: {name}"
        for path, names in imports_of(package).items()
        for name in names
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    )


def test_webhooks_never_touch_the_database() -> None:
    """webhooks/ verifies, parses and hands off: no sqlmodel, sqlalchemy or persistence."""
    assert (
        offenders("webhooks", ("sqlmodel", "sqlalchemy", "service.persistence")) == []
    )


def test_routes_planner_is_a_pure_library() -> None:
    """routes_planner/ knows nothing of the service, the web or the database."""
    forbidden = ("service", "webhooks", "aiohttp", "sqlalchemy", "sqlmodel")
    assert offenders("routes_planner", forbidden) == []


def test_domain_does_no_io() -> None:
    """service/domain imports nothing that does I/O."""
    forbidden = (
        "aiohttp",
        "httpx",
        "sqlalchemy",
        "sqlmodel",
        "service.persistence",
        "service.gateways",
        "asyncpg",
        "aiosqlite",
        "socket",
        "requests",
    )
    assert offenders("service/domain", forbidden) == []
