"""Which build of PyVRP's C++ this process runs: the wheel from PyPI, or the one
``deploy/native_pyvrp.py`` compiled for this machine (same search, faster)."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

# Kept in step with deploy/native_pyvrp.py, which writes them.
NATIVE_HOME = "pyvrp-native"  # under the venv: build tree and BUILD.json
WHEEL_COPY = "pyvrp-wheel"  # under the venv: the wheel's package, set aside


@dataclass(frozen=True, slots=True)
class PyvrpBuild:
    """The PyVRP in use: its version, whether it is the machine's own build,
    and a line for people (benchmark headers, logs)."""

    version: str
    native: bool
    detail: str


@cache
def pyvrp_build() -> PyvrpBuild:
    """Identify the loaded ``pyvrp._pyvrp`` module by its file's sha256 against
    the stamp the native build wrote (a wheel reinstalled over it is told
    apart, as is a build for another version)."""
    import pyvrp._pyvrp as core

    version = importlib.metadata.version("pyvrp")
    module = Path(core.__file__ or "")
    stamp = _read_stamp(Path(sys.prefix) / NATIVE_HOME / "BUILD.json")
    if stamp is not None and module.is_file():
        digest = hashlib.sha256(module.read_bytes()).hexdigest()
        modules = stamp.get("modules")
        built = modules.get("_pyvrp") if isinstance(modules, dict) else None
        if stamp.get("pyvrp") == version and built == digest:
            compiler = str(stamp.get("compiler", "")).split(" (")[0]
            detail = f"PyVRP {version} built here ({compiler}; {stamp.get('flags')})"
            return PyvrpBuild(version, True, detail)
    return PyvrpBuild(version, False, f"PyVRP {version} wheel from PyPI")


def wheel_copy() -> Path | None:
    """The wheel's package set aside by the native build (for benchmarks that run
    PyVRP as installed from PyPI), when this process runs the native build."""
    folder = Path(sys.prefix) / WHEEL_COPY
    if pyvrp_build().native and (folder / "pyvrp").is_dir():
        return folder
    return None


def _read_stamp(path: Path) -> dict[str, object] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
