"""The plugin store keeps each version once, as it was read; names resolve to files."""

from __future__ import annotations

from pathlib import Path

import pytest

from chronus.plugins.ladspa.reference import ladspa_version
from chronus.plugins.source import version_of
from chronus.plugins.store import PluginStore, ResolveError, default_folders, resolve


def test_a_version_is_stored_once_under_its_hash(tmp_path: Path) -> None:
    source = tmp_path / "fold.py"
    source.write_bytes(b"X = 1\n")
    store = PluginStore(tmp_path / "store")
    stored = store.put(source, "fold")
    assert stored.version == version_of(b"X = 1\n")
    assert Path(stored.path) == tmp_path / "store" / f"fold-{stored.version}.py"
    assert Path(stored.path).read_bytes() == b"X = 1\n"
    assert store.put(source, "fold") == stored
    assert sorted(p.name for p in (tmp_path / "store").iterdir()) == [Path(stored.path).name]


def test_an_edit_of_the_users_file_never_changes_a_stored_version(tmp_path: Path) -> None:
    source = tmp_path / "fold.py"
    source.write_bytes(b"X = 1\n")
    store = PluginStore(tmp_path / "store")
    first = store.put(source, "fold")
    source.write_bytes(b"X = 2\n")
    second = store.put(source, "fold")
    assert first.version != second.version
    assert Path(first.path).read_bytes() == b"X = 1\n"
    assert Path(second.path).read_bytes() == b"X = 2\n"
    kept = store.get("fold", first.version)
    assert kept is not None and Path(kept.path).read_bytes() == b"X = 1\n"


def test_a_damaged_copy_is_not_taken_for_its_version(tmp_path: Path) -> None:
    source = tmp_path / "fold.py"
    source.write_bytes(b"X = 1\n")
    store = PluginStore(tmp_path / "store")
    stored = store.put(source, "fold")
    Path(stored.path).write_bytes(b"X = 666\n")
    assert store.get("fold", stored.version) is None
    assert Path(store.put(source, "fold").path).read_bytes() == b"X = 1\n"  # written again


def test_an_unreadable_or_huge_source_is_refused(tmp_path: Path) -> None:
    store = PluginStore(tmp_path / "store")
    with pytest.raises(ResolveError, match="cannot read"):
        store.put(tmp_path / "missing.py", "fold")
    huge = tmp_path / "huge.py"
    huge.write_bytes(b"#" * (5 << 20))
    with pytest.raises(ResolveError, match="not a module"):
        store.put(huge, "huge")
    assert not (tmp_path / "store").exists()


def test_a_path_names_a_file_and_its_stem_names_the_plugin(tmp_path: Path) -> None:
    source = tmp_path / "wave_fold.py"
    source.write_text("")
    assert resolve(str(source), []) == (source.resolve(), "wave_fold")
    assert resolve(str(source), [], "fold") == (source.resolve(), "fold")
    with pytest.raises(ResolveError, match="no such file"):
        resolve(str(tmp_path / "nope.py"), [])
    with pytest.raises(ResolveError, match="not a plugin name"):
        resolve(str(source), [], "Bad-Name")


def test_a_bare_name_is_found_in_the_first_folder_that_has_it(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    (second / "fold.py").write_text("")
    assert resolve("fold", [first, second]) == ((second / "fold.py").resolve(), "fold")
    (first / "fold.py").write_text("")
    assert resolve("fold", [first, second]) == ((first / "fold.py").resolve(), "fold")
    with pytest.raises(ResolveError, match=r"no module crush\.py in the module folders"):
        resolve("crush", [first, second])
    with pytest.raises(ResolveError, match="not a module name"):
        resolve("Fold!", [first])


def test_the_configured_folders_come_before_the_users_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    assert default_folders(["/x", "/y"]) == [
        Path("/x"), Path("/y"), tmp_path / "config" / "chronus" / "modules",
    ]  # fmt: skip


def test_a_native_plugin_stands_for_itself_versioned_by_its_library(tmp_path: Path) -> None:
    library = tmp_path / "tap_reverb.so"
    library.write_bytes(b"\x7fELF")
    reference = f"{library}#tap_reverb"
    path, name = resolve(reference, [tmp_path])
    assert (str(path), name) == (reference, "tap_reverb")
    stored = PluginStore(tmp_path / "store").put(path, name)
    assert (stored.path, stored.version) == (reference, ladspa_version(str(library), "tap_reverb"))
    assert not (tmp_path / "store").exists(), "the store keeps no copy of a library"
    with pytest.raises(ResolveError, match="no such LADSPA library"):
        resolve(f"{tmp_path}/gone.so#tap_reverb", [tmp_path])
