"""Build PyVRP's C++ for this machine and put it in place of the wheel's.

PyVRP's wheels are compiled for any x86-64 and without profile guidance. This
script downloads the sdist of the PyVRP version installed in this venv, builds
it with clang (libc++ for ``<format>``, linked in statically), ``-march=native``
and profile-guided optimisation from a planning workload, and checks that the
build searches step for step as the wheel does (same costs at every iteration
on a CVRP and a time-window instance) before it swaps the two extension modules
in site-packages. The wheel's package is kept in ``<venv>/pyvrp-wheel`` so
benchmarks can still run PyVRP as installed from PyPI.

Run with the venv's interpreter from the repository root::

    .venv/bin/python deploy/native_pyvrp.py            # build unless up to date
    .venv/bin/python deploy/native_pyvrp.py --if-needed  # same, but skip after a failure
    .venv/bin/python deploy/native_pyvrp.py --force    # build again
    .venv/bin/python deploy/native_pyvrp.py --restore  # put the wheel's modules back

Needs Debian packages (installed with apt-get when run as root; see APT), the
package registries and about four minutes on two cores. When anything fails,
the wheel stays in place and the planner works as before, only slower.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pyvrp is imported in children only, from the build under test
    from pyvrp import ProblemData

APT = (
    "clang-19",
    "lld-19",
    "llvm-19",
    "libc++-19-dev",
    "libc++abi-19-dev",
    "libspdlog-dev",
    "pkg-config",
)
PYBIND11 = "pybind11==3.0.0"  # the version PyVRP 0.14's meson wrap asks for
BUILD_TOOLS = ("meson>=1.2", "ninja", "docblock", PYBIND11)
CXX_FLAGS = ("-stdlib=libc++", "-march=native", "-ffp-contract=off")
# libc++ and libc++abi linked in, so the modules need only libc and libgcc_s.
LINK_FLAGS = (
    "-stdlib=libc++", "-static-libstdc++", "-Wl,-Bstatic", "-lc++abi", "-Wl,-Bdynamic"
)  # fmt: skip
MODULES = ("_pyvrp", "search/_search")  # extension modules, relative to pyvrp/
VENV = Path(sys.prefix)
HOME = VENV / "pyvrp-native"  # build tree, stamp and failure note
WHEEL_COPY = VENV / "pyvrp-wheel"  # the PyPI package, for benchmarks
STAMP = HOME / "BUILD.json"
FAILED = HOME / "FAILED"


class BuildError(Exception):
    """A step failed; the message says which and what to do."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--if-needed", action="store_true", help="skip after a failure")
    mode.add_argument("--restore", action="store_true", help="put the wheel back")
    mode.add_argument("--force", action="store_true", help="build even if up to date")
    mode.add_argument("--workload", type=Path, help=argparse.SUPPRESS)
    mode.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.workload is not None:
        _workload(args.workload)
        return 0
    if args.trace:
        print(json.dumps(_trace()))
        return 0
    if args.restore:
        restore()
        return 0
    version = importlib.metadata.version("pyvrp")
    if not args.force and up_to_date(version):
        print(f"native PyVRP {version}: up to date")
        return 0
    if args.if_needed and FAILED.exists():
        note = FAILED.read_text().strip()
        print(f"native PyVRP {version}: skipped, the last build failed ({note});")
        print("  the wheel stays in use; `make native` tries again")
        return 0
    started = time.monotonic()
    try:
        build(version)
    except BuildError as exc:
        HOME.mkdir(parents=True, exist_ok=True)
        FAILED.write_text(f"{exc}\n")
        print(f"native PyVRP {version}: not built: {exc}", file=sys.stderr)
        print("  the wheel stays in use (same results, slower)", file=sys.stderr)
        return 1
    FAILED.unlink(missing_ok=True)
    print(
        f"native PyVRP {version}: built and in place in {time.monotonic() - started:.0f} s"
    )
    return 0


# --- state ----------------------------------------------------------------------


def site_pyvrp() -> Path:
    return Path(sysconfig.get_paths()["platlib"]) / "pyvrp"


def module_files(package: Path) -> dict[str, Path]:
    """The extension module files of a pyvrp package directory."""
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    return {m: package / f"{m}{suffix}" for m in MODULES}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cpu_fingerprint() -> str:
    """Model name and flags: a -march=native build must not run on another CPU."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return "unknown"
    keep = [ln for ln in lines if ln.startswith(("model name", "flags"))][:2]
    return hashlib.sha256("\n".join(keep).encode()).hexdigest()[:16]


def wheel_hashes(version: str) -> dict[str, str]:
    """sha256 of the extension modules as pip installed them (from RECORD)."""
    dist = importlib.metadata.distribution("pyvrp")
    assert dist.version == version
    wanted = {f"pyvrp/{m}{sysconfig.get_config_var('EXT_SUFFIX')}": m for m in MODULES}
    out = {}
    for entry in dist.files or ():
        module = wanted.get(str(entry))
        if module is not None and entry.hash is not None:
            digest = base64.urlsafe_b64decode(entry.hash.value + "==")
            out[module] = digest.hex()
    return out


def up_to_date(version: str) -> bool:
    """The native build of ``version`` is in site-packages, made on this CPU."""
    try:
        stamp = json.loads(STAMP.read_text())
        if stamp["pyvrp"] != version or stamp["cpu"] != cpu_fingerprint():
            return False
        built = {m: stamp["modules"][m] for m in MODULES}
    except (OSError, ValueError, TypeError, KeyError):
        return False  # no stamp, or a damaged one: build again
    files = module_files(site_pyvrp())
    return all(files[m].exists() and sha256(files[m]) == built[m] for m in MODULES)


def restore() -> None:
    """Copy the wheel's extension modules back into site-packages."""
    if not WHEEL_COPY.exists():
        print("nothing to restore: the wheel's modules were never replaced")
        return
    target = module_files(site_pyvrp())
    for module, source in module_files(WHEEL_COPY / "pyvrp").items():
        _replace(source, target[module])
    STAMP.unlink(missing_ok=True)
    print("the wheel's PyVRP modules are back in place")


def _replace(source: Path, target: Path) -> None:
    tmp = target.with_name(target.name + ".new")
    shutil.copy2(source, tmp)
    os.replace(tmp, target)


# --- build ----------------------------------------------------------------------


def build(version: str) -> None:
    _apt_packages()
    HOME.mkdir(parents=True, exist_ok=True)
    _keep_wheel_copy(version)
    tools = _build_tools()
    source = _sdist(version)
    pkgconfig = _pkgconfig(tools)
    profiles = HOME / "profiles"
    shutil.rmtree(profiles, ignore_errors=True)
    profiles.mkdir()

    # 1. Instrumented build, run on the planning workload.
    instrumented = _meson_build(
        tools, source, pkgconfig, "instrumented", ("-fprofile-instr-generate",)
    )
    print("  profiling the planner's searches (about 40 s)", flush=True)
    _run(
        [sys.executable, __file__, "--workload", str(profiles)],
        env={
            "PYTHONPATH": str(instrumented),
            "LLVM_PROFILE_FILE": f"{profiles}/%p.profraw",
        },
        what="the profiling workload",
    )
    merged = profiles / "merged.profdata"
    raws = sorted(str(p) for p in profiles.glob("*.profraw"))
    if not raws:
        raise BuildError("the workload wrote no profile")
    _run(["llvm-profdata-19", "merge", "-o", str(merged), *raws], what="llvm-profdata")

    # 2. Optimised build from the profile.
    final = _meson_build(
        tools, source, pkgconfig, "optimised", (f"-fprofile-instr-use={merged}",)
    )

    # 3. Same search, step for step, as the wheel; then swap.
    wheel_trace = _trace_in(WHEEL_COPY)
    native_trace = _trace_in(final)
    if wheel_trace != native_trace:
        raise BuildError(
            "the build's search differs from the wheel's on the check instances "
            f"(wheel {wheel_trace}, build {native_trace}); keeping the wheel"
        )
    target = module_files(site_pyvrp())
    built = module_files(final / "pyvrp")
    for module in MODULES:
        _replace(built[module], target[module])
    STAMP.write_text(
        json.dumps(
            {
                "pyvrp": version,
                "cpu": cpu_fingerprint(),
                "compiler": _first_line(["clang++-19", "--version"]),
                "flags": " ".join(CXX_FLAGS) + " -O3 -flto, profile-guided",
                "modules": {m: sha256(target[m]) for m in MODULES},
                "wheel_modules": wheel_hashes(version),
                "check": native_trace,
            },
            indent=2,
        )
        + "\n"
    )
    shutil.rmtree(profiles, ignore_errors=True)


def _apt_packages() -> None:
    missing = [p for p in APT if not _installed(p)]
    if not missing:
        return
    if os.geteuid() != 0:
        raise BuildError(f"needs Debian packages {' '.join(missing)} (run as root)")
    print(f"  apt-get install {' '.join(missing)}", flush=True)
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    try:
        _run(["apt-get", "install", "-y", "-qq", *missing], env=env, what="apt-get")
    except BuildError:
        _run(["apt-get", "update", "-qq"], env=env, what="apt-get update")
        _run(["apt-get", "install", "-y", "-qq", *missing], env=env, what="apt-get")


def _installed(package: str) -> bool:
    out = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True
    )
    # Removed packages read "deinstall ok config-files" or "... not-installed".
    return out.returncode == 0 and out.stdout == "install ok installed"


def _keep_wheel_copy(version: str) -> None:
    """Copy the installed package aside while its modules are still the wheel's."""
    wheel = wheel_hashes(version)
    installed = module_files(site_pyvrp())
    if all(sha256(installed[m]) == wheel.get(m) for m in MODULES):
        shutil.rmtree(WHEEL_COPY, ignore_errors=True)
        shutil.copytree(site_pyvrp(), WHEEL_COPY / "pyvrp")
        (WHEEL_COPY / "VERSION").write_text(version + "\n")
        return
    kept = WHEEL_COPY / "VERSION"
    if not (kept.exists() and kept.read_text().strip() == version):
        raise BuildError(
            "site-packages holds neither the wheel's modules nor a known build; "
            "reinstall with `pip install --force-reinstall --no-deps pyvrp`"
        )


def _build_tools() -> Path:
    tools = HOME / "tools"
    python = tools / "bin" / "python"
    if not python.exists():
        _run([sys.executable, "-m", "venv", str(tools)], what="making the tools venv")
    _run(
        [str(python), "-m", "pip", "install", "-q", *BUILD_TOOLS],
        what="pip install of meson, ninja and pybind11",
    )
    return tools


def _sdist(version: str) -> Path:
    """PyVRP's source from PyPI, unpacked (kept between builds)."""
    source = HOME / f"pyvrp-{version}"
    if (source / "meson.build").exists():
        return source
    with tempfile.TemporaryDirectory() as tmp:
        _run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps",
             "--no-binary", ":all:", "-d", tmp, f"pyvrp=={version}"],
            what="pip download of the PyVRP sdist",
        )  # fmt: skip
        archives = list(Path(tmp).glob("pyvrp-*.tar.gz"))
        if not archives:
            raise BuildError("pip download gave no PyVRP sdist")
        with tarfile.open(archives[0]) as tar:
            tar.extractall(HOME, filter="data")
    if not (source / "meson.build").exists():
        raise BuildError(f"the sdist did not unpack to {source}")
    return source


def _pkgconfig(tools: Path) -> str:
    """PKG_CONFIG_PATH for the build: pybind11 from the tools venv, and Debian's
    spdlog headers used header-only with std::format, as PyVRP's meson wrap would
    build it."""
    folder = HOME / "pkgconfig"
    folder.mkdir(exist_ok=True)
    (folder / "spdlog.pc").write_text(
        "Name: spdlog\n"
        "Description: spdlog, header-only with std::format\n"
        "Version: 1.10.0\n"
        "Cflags: -DSPDLOG_HEADER_ONLY -DSPDLOG_USE_STD_FORMAT\n"
    )
    found = list(
        (tools / "lib").glob("python3*/site-packages/pybind11/share/pkgconfig")
    )
    if not found:
        raise BuildError("pybind11's pkg-config file is missing from the tools venv")
    return f"{folder}:{found[0]}"


def _meson_build(
    tools: Path, source: Path, pkgconfig: str, name: str, extra: tuple[str, ...]
) -> Path:
    """Configure, compile and install into HOME/name; returns that folder, which
    holds a complete pyvrp package (the wheel's Python files, the new modules)."""
    stage = HOME / name
    shutil.rmtree(stage, ignore_errors=True)
    shutil.copytree(WHEEL_COPY / "pyvrp", stage / "pyvrp")
    for path in module_files(stage / "pyvrp").values():
        path.unlink()
    build_dir = HOME / f"build-{name}"
    shutil.rmtree(build_dir, ignore_errors=True)
    env = {
        "PATH": f"{tools / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "PKG_CONFIG_PATH": pkgconfig,
        "CXX": "clang++-19",
        "CXX_LD": "lld",
    }
    cpp_args = " ".join((*CXX_FLAGS, *extra))
    link_args = " ".join((*LINK_FLAGS, *extra))
    print(f"  compiling PyVRP ({name}; about 90 s)", flush=True)
    _run(
        [str(tools / "bin" / "meson"), "setup", str(build_dir), "--buildtype", "release",
         f"-Dpython.platlibdir={stage}", "-Dstrip=true", "-Db_coverage=false",
         "-Dwerror=false", f"-Dcpp_args={cpp_args}", f"-Dcpp_link_args={link_args}"],
        env=env, cwd=source, what="meson setup",
    )  # fmt: skip
    _run([str(tools / "bin" / "meson"), "compile", "-C", str(build_dir)],
         env=env, what="compiling PyVRP")  # fmt: skip
    _run([str(tools / "bin" / "meson"), "install", "-C", str(build_dir),
          "--skip-subprojects"], env=env, what="meson install")  # fmt: skip
    missing = [str(p) for p in module_files(stage / "pyvrp").values() if not p.exists()]
    if missing:
        raise BuildError(f"meson install left out {', '.join(missing)}")
    shutil.rmtree(build_dir, ignore_errors=True)
    return stage


def _run(
    cmd: list[str],
    *,
    what: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> str:
    merged = {**os.environ, **(env or {})}
    done = subprocess.run(cmd, env=merged, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise BuildError(f"{what} failed (exit {done.returncode}):\n{tail}")
    return done.stdout


def _first_line(cmd: list[str]) -> str:
    try:
        return _run(cmd, what=cmd[0]).splitlines()[0]
    except (BuildError, IndexError, OSError):
        return "unknown"


def _trace_in(folder: Path) -> dict[str, str]:
    """The check trace computed by the pyvrp package in ``folder``."""
    out = _run(
        [sys.executable, __file__, "--trace"],
        env={"PYTHONPATH": str(folder)},
        what=f"the search check with {folder.name}",
    )
    trace: dict[str, str] = json.loads(out.strip().splitlines()[-1])
    return trace


# --- workload and check (run in a child with PYTHONPATH set) ---------------------


def _instance(n: int, layout: str, windows: bool, per_route: int) -> ProblemData:
    """A seeded instance in the manner of CVRPLIB X (``layout`` R: customers
    spread evenly, C: in clusters, RC: half and half; the depot in the centre
    or a corner) or, with ``windows``, of Solomon/Homberger (one-hour windows
    and ten minutes' service). About ``per_route`` customers fit a vehicle."""
    import numpy as np
    from pyvrp import Client, Depot, Location, ProblemData, VehicleType

    rng = np.random.default_rng(n * 7 + len(layout) + windows)
    xy = rng.integers(0, 1000, size=(n + 1, 2))
    if layout != "R":
        centres = rng.integers(100, 900, size=(max(3, n // 60), 2))
        clustered = n if layout == "C" else n // 2
        near = centres[rng.integers(0, len(centres), clustered)]
        xy[1 : clustered + 1] = np.clip(
            near + rng.normal(0, 40, (clustered, 2)), 0, 999
        )
    xy[0] = (500, 500) if n % 2 else (0, 0)
    diff = xy[:, None, :] - xy[None, :, :]
    dist = np.rint(np.hypot(diff[..., 0], diff[..., 1])).astype(np.int64)
    demand = rng.integers(1, 100, size=n + 1)
    horizon = 6000 if windows else 0
    clients = []
    for i in range(1, n + 1):
        early, late = 0, horizon
        if windows:
            centre = int(rng.integers(dist[0, i], horizon - dist[i, 0] - 70))
            early, late = (
                max(0, centre - 30),
                min(horizon - dist[i, 0] - 10, centre + 30),
            )
        clients.append(
            Client(
                location=i,
                delivery=[int(demand[i])],
                service_duration=10 if windows else 0,
                tw_early=early,
                tw_late=late,
            )
        )
    fleet = VehicleType(
        num_available=n,
        capacity=[int(50 * per_route)],
        tw_late=horizon if windows else np.iinfo(np.int64).max,
    )
    locations = [Location(x=int(x), y=int(y)) for x, y in xy]
    duration = dist if windows else np.zeros_like(dist)
    return ProblemData(
        locations, clients, [Depot(location=0)], [fleet], [dist], [duration]
    )


def _trace() -> dict[str, str]:
    """Per instance, a digest of every iteration's costs over a short search."""
    import pyvrp
    from pyvrp.stop import MaxIterations

    checks = {
        "cvrp-300": _instance(300, "RC", False, 12),
        "tw-200": _instance(200, "R", True, 10),
    }
    out = {}
    for name, data in checks.items():
        result = pyvrp.solve(data, MaxIterations(600), seed=7, display=False)
        steps = [
            (s.current_cost, s.candidate_cost, s.best_cost) for s in result.stats.data
        ]
        out[name] = hashlib.sha256(repr(steps).encode()).hexdigest()[:16]
    return out


def _workload(profiles: Path) -> None:
    """What the planner runs, on instances of its own (not the benchmark's):
    PyVRP's search on CVRPs of 200 to 1,000 customers and on windows, and Lagos
    days through plan() (several hubs, reloads, windows, worker processes)."""
    import pyvrp
    from pyvrp.stop import MaxRuntime

    repo = Path(__file__).resolve().parents[1]
    sys.path.insert(1, str(repo))
    from routes_planner import PlannerParams, plan
    from routes_planner.synthetic import lagos_day

    runs = (
        (200, "R", False, 6, 3.0),
        (500, "C", False, 14, 4.0),
        (800, "RC", False, 9, 5.0),
        (1000, "R", False, 25, 5.0),
        (200, "RC", True, 8, 3.0),
        (1000, "C", True, 10, 5.0),
    )
    for n, layout, windows, per_route, seconds in runs:
        data = _instance(n, layout, windows, per_route)
        pyvrp.solve(data, MaxRuntime(seconds), seed=1, display=False)
    for stops, hubs, bikes in ((400, 3, 16), (1200, 3, 40)):
        day = lagos_day(stops, hubs, bikes, seed=2)
        plan(day, PlannerParams(), seed=1, time_limit_s=6)


if __name__ == "__main__":
    sys.exit(main())
