"""The LADSPA scan on real libraries: the test plugins, one that crashes when opened, one
that hangs, one that is not a library, and a real TAP plugin; and `chronus plugins scan`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from chronus.lang.native import declare_native, native_plugins
from chronus.plugins.ladspa.scan import DEFAULT_PATH, ladspa_folders, library_files, scan
from chronus.shell.native import scan_later

from .conftest import SYSTEM, TAP_REVERB, build


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Sorted so that the crashing library comes before the good ones."""
    folder = tmp_path_factory.mktemp("scan")
    build(folder / "a_crashes.so", "-DCRASH_ON_LOAD")
    (folder / "c_not_a_library.so").write_text("not ELF")
    build(folder / "d_plugins.so")
    (folder / "notes.txt").write_text("not a library")
    return folder


def test_the_path() -> None:
    assert ladspa_folders({"LADSPA_PATH": "/a:/b::"}) == [Path("/a"), Path("/b")]
    assert ladspa_folders({"LADSPA_PATH": ""}) == [Path(p).expanduser() for p in DEFAULT_PATH]
    assert ladspa_folders({}) == [Path(p).expanduser() for p in DEFAULT_PATH]


def test_a_crash_a_hang_and_garbage_do_not_stop_the_scan(folder: Path, tmp_path: Path) -> None:
    build(tmp_path / "b_hangs.so", "-DHANG_ON_LOAD")
    found = scan([folder, folder / "missing", tmp_path], timeout=1.0)
    assert found.libraries == 4
    assert found.names() == ["crash", "crash_later", "drift"]
    failures = {Path(f.path).name: f for f in found.failures}
    assert set(failures) == {"a_crashes.so", "b_hangs.so", "c_not_a_library.so"}
    assert failures["a_crashes.so"].kind == "crash"
    assert "SIGSEGV" in failures["a_crashes.so"].message
    assert failures["b_hangs.so"].kind == "timeout"
    assert failures["c_not_a_library.so"].kind == "error"
    assert "OSError" in failures["c_not_a_library.so"].message
    plugin = found.get("crash")
    assert plugin is not None and plugin.path == str(folder / "d_plugins.so")
    assert list(found.by_maker()) == ["chronus tests"]


def test_names_reserved_shared_and_installed_twice(tmp_path: Path, crash_library: Path) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    first.mkdir()
    second.mkdir()
    shutil.copy(crash_library, first / "crash.so")
    shutil.copy(crash_library, second / "crash.so")
    os.symlink(first / "crash.so", first / "link.so")  # the same file: scanned once
    assert len(library_files([first, second])) == 2
    found = scan([first, second], reserved={"drift"})
    # Two plugins labelled crash (the same one, twice): both take the unique id; the copy
    # in the later folder is left out (crash_later alike). drift is reserved: its id too.
    assert found.names() == ["crash_990001", "crash_later_990003", "drift_990002"]
    assert {p.path for p in found.plugins} == {str(first / "crash.so")}
    assert [f.kind for f in found.failures] == ["duplicate"] * 3


@pytest.mark.usefixtures("real_plugins")
def test_chronus_plugins_scan_json(folder: Path, tmp_path: Path) -> None:
    os.symlink(TAP_REVERB, tmp_path / "tap_reverb.so")
    env = {**os.environ, "LADSPA_PATH": f"{tmp_path}:{folder}"}
    run = subprocess.run([sys.executable, "-m", "chronus", "plugins", "scan", "--json"],
                         env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    makers = data["makers"]
    assert [p["name"] for p in makers["chronus tests"]] == ["crash", "crash_later", "drift"]
    assert [p["name"] for p in makers["Tom Szilagyi"]] == ["tap_reverb"]
    assert data["libraries"] == 4 and len(data["failures"]) == 2
    text = subprocess.run([sys.executable, "-m", "chronus", "plugins", "scan"], env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert text.returncode == 0
    assert "4 LADSPA plugins from 2 makers" in text.stdout
    assert "Tom Szilagyi (1; host group tom_szilagyi)" in text.stdout
    assert "a_crashes.so: crash" in text.stdout


@pytest.mark.usefixtures("real_plugins")
def test_the_installed_plugins() -> None:
    found = scan([SYSTEM])
    makers = found.by_maker()
    assert {"Tom Szilagyi", "Steve Harris", "CMT"} <= set(makers)
    assert len(found.plugins) >= 150 and not found.failures
    assert {p.maker_slug for p in makers["CMT"]} == {"cmt"}  # one host for all of CMT
    names = found.names()
    assert len(set(names)) == len(names)
    assert {"tap_reverb", "plate", "gverb"} <= set(names)


def test_the_shell_scans_in_the_background_and_tells_the_language(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LADSPA_PATH", str(folder))
    try:
        scan_later().join(timeout=60)
        found = native_plugins()
        assert sorted(found) == ["crash", "crash_later", "drift"]
        assert found["crash"].reference == f"{folder / 'd_plugins.so'}#crash"
        assert found["crash"].maker == "chronus tests"
    finally:
        declare_native([])
