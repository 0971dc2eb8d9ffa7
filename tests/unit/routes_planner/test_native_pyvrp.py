"""PyVRP built for this machine (deploy/native_pyvrp.py): it searches as the wheel
does, it is told apart from the wheel, and a failed or stale build is handled."""

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import pyvrp._pyvrp

from routes_planner import build_info
from routes_planner.build_info import pyvrp_build

VERSION = importlib.metadata.version("pyvrp")
ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "deploy" / "native_pyvrp.py"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("native_pyvrp", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _trace(pythonpath: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--trace"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=True,
    )
    trace: dict[str, str] = json.loads(done.stdout.strip().splitlines()[-1])
    return trace


def _loaded_digest() -> str:
    return hashlib.sha256(Path(pyvrp._pyvrp.__file__).read_bytes()).hexdigest()


@pytest.mark.skipif(
    not pyvrp_build().native, reason="no native PyVRP build here (`make native`)"
)
def test_native_build_searches_step_for_step_as_the_wheel() -> None:
    wheel = build_info.wheel_copy()
    assert wheel is not None
    native, plain = _trace(None), _trace(wheel)
    assert set(native) == {"cvrp-300", "tw-200"}
    assert native == plain


def test_a_stamp_names_the_loaded_module_as_the_native_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / build_info.NATIVE_HOME
    home.mkdir()
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    stamp = {
        "pyvrp": VERSION,
        "compiler": "Debian clang version 19.1.7 (3~deb12u1)",
        "flags": "-march=native, profile-guided",
        "modules": {"_pyvrp": _loaded_digest()},
    }
    (home / "BUILD.json").write_text(json.dumps(stamp))
    found = pyvrp_build.__wrapped__()
    assert found.native
    assert found.detail == (
        f"PyVRP {VERSION} built here (Debian clang version 19.1.7; "
        "-march=native, profile-guided)"
    )


@pytest.mark.parametrize(
    "change",
    [
        {"modules": {"_pyvrp": "0" * 64}},  # the wheel reinstalled over the build
        {"pyvrp": "0.13.3"},  # a build of another version
        None,  # no stamp at all
    ],
)
def test_anything_but_the_stamped_module_is_the_wheel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: dict[str, object] | None
) -> None:
    home = tmp_path / build_info.NATIVE_HOME
    home.mkdir()
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    if change is not None:
        stamp = {"pyvrp": VERSION, "modules": {"_pyvrp": _loaded_digest()}}
        (home / "BUILD.json").write_text(json.dumps({**stamp, **change}))
    found = pyvrp_build.__wrapped__()
    assert not found.native
    assert found.detail == f"PyVRP {VERSION} wheel from PyPI"


def test_a_damaged_stamp_is_the_wheel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / build_info.NATIVE_HOME
    home.mkdir()
    (home / "BUILD.json").write_text('{"pyvrp": ')
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    assert not pyvrp_build.__wrapped__().native


def test_the_wheel_hashes_come_from_pips_record() -> None:
    script = _script()
    hashes = script.wheel_hashes(VERSION)
    assert set(hashes) == set(script.MODULES)
    # The wheel's modules are either in site-packages or set aside by the build.
    wheel = build_info.wheel_copy()
    package = wheel / "pyvrp" if wheel is not None else script.site_pyvrp()
    for module, path in script.module_files(package).items():
        assert script.sha256(path) == hashes[module]


def _fake_install(
    script: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: bytes
) -> Path:
    """A site-packages pyvrp whose modules hold ``content``; the script's
    folders moved under tmp_path."""
    site = tmp_path / "site" / "pyvrp"
    for path in script.module_files(site).values():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    monkeypatch.setattr(script, "site_pyvrp", lambda: site)
    monkeypatch.setattr(script, "HOME", tmp_path / "native")
    monkeypatch.setattr(script, "STAMP", tmp_path / "native" / "BUILD.json")
    monkeypatch.setattr(script, "FAILED", tmp_path / "native" / "FAILED")
    monkeypatch.setattr(script, "WHEEL_COPY", tmp_path / "wheel")
    return site


def test_unknown_modules_in_site_packages_stop_the_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = _script()
    _fake_install(script, tmp_path, monkeypatch, b"neither the wheel nor a build")
    with pytest.raises(script.BuildError, match="force-reinstall"):
        script._keep_wheel_copy(VERSION)
    assert not (tmp_path / "wheel").exists()


def test_the_stamp_is_up_to_date_only_for_its_modules_and_cpu(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = _script()
    site = _fake_install(script, tmp_path, monkeypatch, b"native modules")
    digest = hashlib.sha256(b"native modules").hexdigest()
    script.HOME.mkdir()
    stamp = {
        "pyvrp": VERSION,
        "cpu": script.cpu_fingerprint(),
        "modules": dict.fromkeys(script.MODULES, digest),
    }
    script.STAMP.write_text(json.dumps(stamp))
    assert script.up_to_date(VERSION)
    assert not script.up_to_date("0.15.0")
    script.STAMP.write_text(json.dumps({**stamp, "cpu": "another machine"}))
    assert not script.up_to_date(VERSION)
    script.STAMP.write_text(json.dumps(stamp))
    next(iter(script.module_files(site).values())).write_bytes(
        b"pip put the wheel back"
    )
    assert not script.up_to_date(VERSION)


def test_a_damaged_or_partial_stamp_means_build_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = _script()
    _fake_install(script, tmp_path, monkeypatch, b"native modules")
    script.HOME.mkdir()
    assert not script.up_to_date(VERSION)  # no stamp yet
    for text in ['{"pyvrp": ', "[]", json.dumps({"pyvrp": VERSION})]:
        script.STAMP.write_text(text)
        assert not script.up_to_date(VERSION)
    cpu = script.cpu_fingerprint()
    script.STAMP.write_text(json.dumps({"pyvrp": VERSION, "cpu": cpu, "modules": {}}))
    assert not script.up_to_date(VERSION)


def test_after_a_failure_if_needed_skips_and_says_how_to_retry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    script = _script()
    _fake_install(script, tmp_path, monkeypatch, b"wheel")
    script.HOME.mkdir()
    script.FAILED.write_text("compiling PyVRP failed (exit 1)\n")
    monkeypatch.setattr(script, "build", lambda version: pytest.fail("built again"))
    assert script.main(["--if-needed"]) == 0
    out = capsys.readouterr().out
    assert "the last build failed (compiling PyVRP failed (exit 1))" in out
    assert "`make native` tries again" in out


def test_a_failed_build_leaves_a_note_and_the_wheel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    script = _script()
    site = _fake_install(script, tmp_path, monkeypatch, b"wheel")

    def fail(version: str) -> None:
        raise script.BuildError("needs Debian packages clang-19 (run as root)")

    monkeypatch.setattr(script, "build", fail)
    assert script.main([]) == 1
    assert "run as root" in script.FAILED.read_text()
    assert "the wheel stays in use" in capsys.readouterr().err
    for path in script.module_files(site).values():
        assert path.read_bytes() == b"wheel"


def test_restore_puts_the_wheels_modules_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = _script()
    site = _fake_install(script, tmp_path, monkeypatch, b"native modules")
    for path in script.module_files(script.WHEEL_COPY / "pyvrp").values():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"wheel modules")
    script.HOME.mkdir()
    script.STAMP.write_text("{}")
    assert script.main(["--restore"]) == 0
    for path in script.module_files(site).values():
        assert path.read_bytes() == b"wheel modules"
    assert not script.STAMP.exists()


@pytest.mark.parametrize(
    ("status", "installed"),
    [
        ("install ok installed", True),
        ("unknown ok not-installed", False),  # removed and purged
        ("deinstall ok config-files", False),  # removed, configuration kept
    ],
)
def test_a_removed_apt_package_counts_as_missing(
    monkeypatch: pytest.MonkeyPatch, status: str, installed: bool
) -> None:
    script = _script()

    def dpkg_query(
        cmd: list[str], **kwargs: object
    ) -> subprocess.CompletedProcess[str]:
        assert cmd[:2] == ["dpkg-query", "-W"]
        return subprocess.CompletedProcess(cmd, 0, stdout=status, stderr="")

    monkeypatch.setattr(script.subprocess, "run", dpkg_query)
    assert script._installed("libspdlog-dev") is installed
