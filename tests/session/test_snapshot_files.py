"""Snapshot files: the format version, what is refused and why, and the diff's words."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chronus.session.snapshot_diff import patch_diff
from chronus.session.snapshots import (
    FORMAT_KEY,
    FORMAT_VERSION,
    SnapshotError,
    SnapshotStore,
    parse_snapshot,
)

DUMP = {
    "modules": {"bass": {"type": "saw", "params": {"cutoff": 400.0}},
                "acid1": {"type": "acid", "params": {"cutoff": 400.0, "res": 0.5}}},
    "connections": [["bass", "acid1"], ["acid1", "master"]],
    "modulations": [],
    "tempo": 120.0,
    "tracks": {"bass": {"pattern": "c2 eb2", "division": 16, "gate": 0.5, "swing": 0.0,
                        "transpose": 0, "lanes": {}, "running": True}},
    "transport": True,
}  # fmt: skip


def test_a_snapshot_round_trips_with_its_version(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    path = store.save("intro", DUMP)
    assert json.loads(path.read_text())[FORMAT_KEY] == FORMAT_VERSION
    assert store.load("intro") == DUMP
    assert store.names() == ["intro"]


@pytest.mark.parametrize(
    ("raw", "said"),
    [
        (b"", "is corrupt: not valid JSON (line 1, column 1"),
        (b'{"modules": {', "is corrupt: not valid JSON"),
        (b"\xff\xfe{}", "is corrupt: it is not UTF-8 text"),
        (b'"just a string"', "is not a chronus snapshot: it holds no JSON object"),
        (b'{"compilerOptions": {}}', "is not a chronus snapshot: JSON without"),
        (b'{"chronus_snapshot": "1", "modules": {}}', "chronus_snapshot is '1'"),
        (b'{"chronus_snapshot": true, "modules": {}}', "chronus_snapshot is True"),
        (b'{"chronus_snapshot": 2, "modules": {}}', "was saved by a newer chronus"),
        (b'{"chronus_snapshot": 1, "modules": []}', "its modules are not an object"),
        (b'{"chronus_snapshot": 1, "modules": {"x": {"params": {}}}}', "module x needs a type"),
        (b'{"chronus_snapshot": 1, "modules": {}, "connections": [["a"]]}', "its connections"),
        (b'{"chronus_snapshot": 1, "modules": {}, "tempo": -3}', "its tempo is -3"),
        (b'{"chronus_snapshot": 1, "modules": {}, "tracks": []}', "its tracks are not"),
    ],
)
def test_what_is_no_snapshot_is_refused_saying_why(raw: bytes, said: str) -> None:
    with pytest.raises(SnapshotError, match=r"^x\.json ") as caught:
        parse_snapshot(raw, "x.json")
    assert said in str(caught.value)


def test_a_file_without_a_version_but_with_modules_is_read_as_version_one() -> None:
    assert parse_snapshot(json.dumps(DUMP).encode()) == DUMP


def test_the_diff_names_every_kind_of_change() -> None:
    new = json.loads(json.dumps(DUMP))
    new["modules"]["acid1"]["params"]["res"] = 0.8
    new["modules"]["lfo1"] = {"type": "lfo", "params": {}}
    new["modulations"] = [["lfo1", "acid1", "cutoff"]]
    new["connections"] = [["bass", "master"], ["acid1", "master"]]
    new["tracks"]["bass"]["swing"] = 0.2
    new["tracks"]["bass"]["running"] = False
    new["transport"] = False
    del new["modules"]["bass"]["params"]
    lines = patch_diff(DUMP, new)
    assert "+ lfo1 (lfo)" in lines
    assert "~ acid1 res 0.5 → 0.8" in lines
    assert "+ bass → master" in lines and "- bass → acid1" in lines
    assert "+ lfo1 modulates acid1 cutoff" in lines
    assert "~ transport playing → stopped" in lines
    assert "~ bass track: swing 0 → 0.2, stopped" in lines
    assert patch_diff(DUMP, DUMP) == []
    gone = patch_diff(DUMP, {"modules": {}, "tempo": 120.0})
    assert set(gone[:2]) == {"- bass (saw)", "- acid1 (acid)"}
    assert "- bass pattern c2 eb2 (16ths)" in gone
