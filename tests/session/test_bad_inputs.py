"""Bad files and numbers get a clear error, never a traceback: a script that is not text, a
session log with arguments nested past Python's recursion limit, a snapshot nested so, and a
number OSC cannot carry typed as a raw message."""

from __future__ import annotations

from pathlib import Path

import pytest

from chronus.cli import main
from chronus.session.script import ScriptError, load_script_file
from chronus.session.snapshots import SnapshotStore
from chronus.session.stamped_log import read_stamped_log

DEEP = "[" * 100_000 + "]" * 100_000


def _bass_log(tmp_path: Path, *lines: str) -> Path:
    """A session log (48 kHz, 128) that creates a saw called bass at 0, then `lines`."""
    log = tmp_path / "s.log"
    head = ["# chronus session log v1 rate=48000 block=128", '0\t/patch/create\t["bass", "saw"]']
    log.write_text("\n".join([*head, *lines]) + "\n")
    return log


def test_a_binary_file_is_not_a_script(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    binary = tmp_path / "noise.chr"
    binary.write_bytes(b"tempo 120\n\xc1\xff\x00\x9f")
    with pytest.raises(ScriptError, match=r"noise\.chr:2: not a UTF-8 text file"):
        load_script_file(binary)
    (tmp_path / "random.chr").write_bytes(b"\xc1\xff" * 1000)
    out = tmp_path / "o.wav"
    with pytest.raises(SystemExit) as exited:  # how the CLI leaves on a bad script
        main(["render", str(tmp_path / "random.chr"), "-o", str(out)])
    assert exited.value.code == 1
    assert "random.chr:1: not a UTF-8 text file" in capsys.readouterr().err
    assert not out.exists()


def test_a_session_log_nested_too_deeply_names_its_line(tmp_path: Path) -> None:
    log = _bass_log(tmp_path, f"0\t/mod/bass/cutoff\t{DEEP}")
    with pytest.raises(ValueError, match=r"s\.log:3: arguments nested too deeply"):
        read_stamped_log(log)


def test_a_snapshot_nested_too_deeply_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "deep.json").write_text(DEEP)
    with pytest.raises(ValueError, match="nested too deeply to be a snapshot"):
        SnapshotStore(tmp_path).load("deep")


@pytest.mark.parametrize("line", ["/mod/bass/cutoff 1e39", "/engine/sync 5000000000"])
def test_a_number_osc_cannot_carry_is_a_parse_error(
    line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["parse", line]) == 1
    out = capsys.readouterr()
    assert "must be within ±3.403e+38" in out.out or "must fit in 32 bits" in out.out
    assert "Traceback" not in out.err


def test_commands_a_session_render_refuses_are_told(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = _bass_log(
        tmp_path, "4800\t/mod/ghost/cutoff\t[800]", '9600\t/patch/connect\t["ghost", "master"]'
    )
    assert main(["render", str(log), "-o", str(tmp_path / "s.wav"), "--tail", "0.5"]) == 0
    err = capsys.readouterr().err
    assert "warning: 2 commands of the log were refused" in err
    assert "/mod/ghost/cutoff" in err and "/patch/connect" in err


def test_a_session_log_reaching_past_what_a_wav_holds_is_refused_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = _bass_log(tmp_path, "1000000000000000\t/mod/bass/cutoff\t[800]")
    out = tmp_path / "far.wav"
    assert main(["render", str(log), "-o", str(out)]) == 1
    assert "a WAV holds at most 11,185 s at 48000 Hz" in capsys.readouterr().err
    assert not out.exists()
    assert main(["render", str(log), "-o", str(out), "--seconds", "0.5"]) == 0
    assert out.exists()
