"""The live session log: exact round trip, appending, torn last lines, bad lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from chronus.protocol import Message, validate
from chronus.session.stamped_log import (
    Commit,
    StampedLog,
    StampedSession,
    read_stamped_log,
    summarise_log,
)

NOTE = validate("/note/bass", (36, 100, 0.25))
CREATE = validate("/patch/create", ("bass", "saw"))
CUTOFF = validate("/mod/bass/cutoff", (800.0,))
TEMPO = validate("/tempo", (128.0,))
GATE = validate("/gate/bass", (1,))
HEADER = "# chronus session log v1 rate=48000 block=128\n"


def typed(commands: list[tuple[int, Message]]) -> list[tuple[int, str, list[tuple[type, object]]]]:
    """Commands with the type of every argument, since 1 == 1.0 would hide a lost float."""
    return [(s, m.address, [(type(a), a) for a in m.args]) for s, m in commands]


def test_round_trip_is_exact(tmp_path: Path) -> None:
    path = tmp_path / "session.log"
    commands = [
        (0, CREATE),
        (0, TEMPO),
        (48128, NOTE),
        (48128, validate("/mod/bass/cutoff", (0.1,))),
        (48256, validate("/mod/bass/amp", (1e-7,))),
        (48384, validate("/mod/bass/cutoff", (1 / 3,))),
        (96000, GATE),
        (2**40, CUTOFF),
    ]
    with StampedLog(path, 48000, 128) as log:
        for sample, message in commands:
            log.write(sample, message)
    text = path.read_text(encoding="utf-8")
    assert text.startswith(HEADER)
    assert "48128\t/note/bass\t[36.0, 100.0, 0.25]\n" in text
    session = read_stamped_log(path)
    assert (session.rate, session.block) == (48000, 128)
    assert session.commands == commands
    assert typed(session.commands) == typed(commands)
    assert session.commands[4][1].args == (1e-7,)
    assert session.commands[5][1].args[0] == 1 / 3
    assert session.commands[0][1].args == ("bass", "saw")
    assert session.commands[6][1].args == (1,) and type(session.commands[6][1].args[0]) is int


def test_every_line_is_readable_before_close(tmp_path: Path) -> None:
    path = tmp_path / "session.log"
    log = StampedLog(path, 48000, 128)
    log.write(128, TEMPO)
    # no close: what a crashed engine leaves behind
    assert read_stamped_log(path).commands == [(128, TEMPO)]
    log.close()


def test_appending_to_an_existing_log(tmp_path: Path) -> None:
    path = tmp_path / "session.log"
    with StampedLog(path, 48000, 128) as log:
        log.write(0, CREATE)
    with StampedLog(path, 48000, 128) as log:
        log.write(256, NOTE)
    assert path.read_text(encoding="utf-8").count("# chronus") == 1
    assert read_stamped_log(path).commands == [(0, CREATE), (256, NOTE)]


def test_an_empty_file_gets_the_header(tmp_path: Path) -> None:
    path = tmp_path / "session.log"
    path.touch()
    with StampedLog(path, 44100, 64) as log:
        log.write(64, TEMPO)
    assert read_stamped_log(path) == StampedSession(44100, 64, [(64, TEMPO)])


def test_appending_with_another_rate_or_block_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "session.log"
    StampedLog(path, 48000, 128).close()
    with pytest.raises(ValueError, match="rate=48000 block=128"):
        StampedLog(path, 44100, 128)
    with pytest.raises(ValueError, match="rate=48000 block=128"):
        StampedLog(path, 48000, 256)
    assert path.read_text(encoding="utf-8") == HEADER


def test_appending_to_something_else_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not a chronus session log header"):
        StampedLog(path, 48000, 128)
    assert path.read_text(encoding="utf-8") == "hello\n"


def test_a_torn_last_line_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "session.log"
    with StampedLog(path, 48000, 128) as log:
        log.write(0, CREATE)
        log.write(128, NOTE)
    with path.open("a", encoding="utf-8") as f:
        f.write("256\t/note/bass\t[36.0, 10")  # the crash came mid-write
    assert read_stamped_log(path).commands == [(0, CREATE), (128, NOTE)]


def test_appending_after_a_torn_line_cuts_it_off(tmp_path: Path) -> None:
    path = tmp_path / "session.log"
    with StampedLog(path, 48000, 128) as log:
        log.write(0, CREATE)
    with path.open("ab") as f:
        f.write(b'256\t/patch/create\t["caf\xc3')  # torn inside a two-byte character
    with StampedLog(path, 48000, 128) as log:
        log.write(512, TEMPO)
    assert read_stamped_log(path).commands == [(0, CREATE), (512, TEMPO)]
    assert path.read_text(encoding="utf-8") == HEADER + "0\t/patch/create\t" + (
        '["bass", "saw"]\n512\t/tempo\t[128.0]\n'
    )


def test_a_whole_last_line_without_newline_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "session.log"
    path.write_text(HEADER + "128\t/tempo\t[128.0]", encoding="utf-8")
    assert read_stamped_log(path).commands == [(128, TEMPO)]
    with StampedLog(path, 48000, 128) as log:
        log.write(256, CUTOFF)
    assert read_stamped_log(path).commands == [(128, TEMPO), (256, CUTOFF)]


@pytest.mark.parametrize(
    "bad",
    [
        "256\t/note/bass\t[36.0, 10",  # torn, but not last
        "256\t/nope\t[]",  # unknown address
        "256\t/tempo\t[1000.0]",  # out of range
        "-5\t/tempo\t[128.0]",  # negative sample
        "x\t/tempo\t[128.0]",
        "256 /tempo [128.0]",  # spaces, not tabs
        '256\t/tempo\t{"bpm": 128}',  # not an array
    ],
)
def test_a_bad_middle_line_names_its_number(tmp_path: Path, bad: str) -> None:
    path = tmp_path / "session.log"
    path.write_text(HEADER + "0\t/tempo\t[120.0]\n" + bad + "\n128\t/tempo\t[128.0]\n", "utf-8")
    with pytest.raises(ValueError, match=r"session\.log:3: "):
        read_stamped_log(path)


def test_a_bad_last_line_with_its_newline_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "session.log"
    path.write_text(HEADER + "0\t/tempo\t[120.0]\n256\t/tempo\t[12\n", "utf-8")
    with pytest.raises(ValueError, match=r":3: "):
        read_stamped_log(path)


def test_a_missing_header_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "session.log"
    path.write_text("0\t/tempo\t[120.0]\n", "utf-8")
    with pytest.raises(ValueError, match=r":1: not a chronus session log header"):
        read_stamped_log(path)
    path.write_text("", "utf-8")
    with pytest.raises(ValueError, match=r":1: no complete header"):
        read_stamped_log(path)


def test_write_refuses_a_bad_sample(tmp_path: Path) -> None:
    with StampedLog(tmp_path / "session.log", 48000, 128) as log:
        with pytest.raises(ValueError, match="sample"):
            log.write(-1, TEMPO)
        with pytest.raises(ValueError, match="sample"):
            log.write(1.5, TEMPO)  # type: ignore[arg-type]
    assert read_stamped_log(tmp_path / "session.log").commands == []


def test_a_commit_reads_back_apart_from_the_commands(tmp_path: Path) -> None:
    path = tmp_path / "session.log"
    with StampedLog(path, 48000, 128) as log:
        log.write(0, CREATE)
        log.write(1280, NOTE)
        log.write_commit(1024, 2048, 6400, [CUTOFF, GATE])
        log.write(2048, TEMPO)
    text = path.read_text(encoding="utf-8")
    assert "1024\t/patch/commit\t[2048, 6400, 2]\n1024\t/mod/bass/cutoff\t[800.0]\n" in text
    session = read_stamped_log(path)
    assert session.commands == [(0, CREATE), (1280, NOTE), (2048, TEMPO)]
    assert session.commits == [Commit(1024, 2048, 6400, (CUTOFF, GATE))]
    assert session.end == 2048 + 6400


def test_a_commit_cut_short_by_a_crash_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "session.log"
    path.write_text(
        HEADER + '0\t/patch/create\t["bass", "saw"]\n'
        "1024\t/patch/commit\t[2048, 6400, 2]\n1024\t/mod/bass/cutoff\t[800.0]\n"
        "3000\t/tempo\t[128.0]\n",  # the engine was restarted onto the same log
        encoding="utf-8",
    )
    session = read_stamped_log(path)
    assert session.commits == []
    assert session.commands == [(0, CREATE), (3000, TEMPO)]


@pytest.mark.parametrize("args", ["[10, 6400, 1]", "[2048, -1, 1]", "[2048, 1.5, 1]", "[2048]"])
def test_a_malformed_commit_line_names_its_line(tmp_path: Path, args: str) -> None:
    path = tmp_path / "session.log"
    path.write_text(f"{HEADER}1024\t/patch/commit\t{args}\n1024\t/tempo\t[128.0]\n")
    with pytest.raises(ValueError, match=r"session.log:2: a commit line"):
        read_stamped_log(path)


def test_the_end_of_a_session_is_read_back(tmp_path: Path) -> None:
    path = tmp_path / "session.log"
    with StampedLog(path, 48000, 128) as log:
        log.write(1280, NOTE)
        log.mark_end(576000)
    assert path.read_text(encoding="utf-8").endswith("# end of session at sample 576000\n")
    session = read_stamped_log(path)
    assert session.commands == [(1280, NOTE)] and session.stopped == 576000
    assert session.end == 576000


def test_where_recordings_begin_is_read_back(tmp_path: Path) -> None:
    path = tmp_path / "session.log"
    with StampedLog(path, 48000, 128) as log:
        log.mark_recording(0, "/t/all.wav")
        log.write(1280, NOTE)
        log.mark_recording(6144, '/t/take "one"\tß.wav')
    session = read_stamped_log(path)
    assert session.recordings == [(0, "/t/all.wav"), (6144, '/t/take "one"\tß.wav')]
    assert session.commands == [(1280, NOTE)]


def test_a_bad_recording_line_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "session.log"
    path.write_text(f"{HEADER}# recording from sample 12 not-json\n")
    with pytest.raises(ValueError, match=r"session.log:2: "):
        read_stamped_log(path)


def test_a_summary_counts_as_the_reader_does(tmp_path: Path) -> None:
    path = tmp_path / "session.log"
    with StampedLog(path, 48000, 128) as log:
        log.write(0, CREATE)
        log.mark_recording(128, "/t/take.wav")
        log.write_commit(256, 1024, 2432, [CUTOFF, TEMPO])
        log.write(96000, NOTE)
    with path.open("a") as tail:
        tail.write("96128\t/note/ba")  # torn by a crash
    session = read_stamped_log(path)
    summary = summarise_log(path)
    assert summary.rate == 48000 and summary.commits == len(session.commits) == 1
    assert summary.commands == len(session.commands) + 2 + 1  # the commit's, and the torn one
    assert summary.end == max(session.end, 96128)
    with StampedLog(path, 48000, 128) as log:
        log.mark_end(200000)
    assert summarise_log(path).end == read_stamped_log(path).end == 200000
    (tmp_path / "other.txt").write_text("hello\n")
    with pytest.raises(ValueError, match="not a chronus session log header"):
        summarise_log(tmp_path / "other.txt")


def test_a_takeover_is_a_comment_and_the_last_commands_are_found(tmp_path: Path) -> None:
    """A supervisor that takes a log over notes it, and finds the last command lines (not
    comments, not commit lines) to tell which commands its predecessor had logged."""
    path = tmp_path / "session.log"
    with StampedLog(path, 48000, 128) as log:
        log.write(0, CREATE)
        log.write(128, CUTOFF)
        log.write_commit(256, 512, 64, [TEMPO])
        log.mark_recording(256, "take.wav")
    with StampedLog(path, 48000, 128) as log:
        assert log.last_commands(3) == [
            '0\t/patch/create\t["bass", "saw"]',
            "128\t/mod/bass/cutoff\t[800.0]",
            "256\t/tempo\t[128.0]",
        ]
        assert log.last_commands(1) == [StampedLog.line(256, TEMPO)]
        log.mark_takeover(1024, 1)
        log.write(1152, NOTE)
    assert "# supervisor replaced at sample 1024 (supervisor 2)\n" in path.read_text()
    session = read_stamped_log(path)
    assert typed(session.commands) == typed([(0, CREATE), (128, CUTOFF), (1152, NOTE)])
    assert StampedLog(tmp_path / "new.log", 48000, 128).last_commands() == []


def test_what_isolated_hosts_did_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "s.log"
    with StampedLog(path, 48000, 128) as log:
        log.write(0, validate("/patch/create", ("g", "saw")))
        log.write_host("g", "bypass", -1, (0, 1, 2, 7, 3))
        log.write_host("g", "host", 4, ())
        log.write_host("g", "bypass", -1, (9,))
    session = read_stamped_log(path)
    assert len(session.commands) == 1
    assert session.hosts["g"].bypassed == {0, 1, 2, 3, 7, 9}
    assert session.hosts["g"].fresh == {4}
    assert '# host ["g", "bypass", {"runs": [[0, 3], [7, 7]]}]' in path.read_text()
    with open(path, "a") as file:
        file.write('# host ["g", "bypass", {"calls": 3}]\n')
    with pytest.raises(ValueError, match="bad host line"):
        read_stamped_log(path)


def test_a_module_no_host_served_at_the_end_reads_back_as_down(tmp_path: Path) -> None:
    path = tmp_path / "s.log"
    with StampedLog(path, 48000, 128) as log:
        log.write(0, validate("/patch/create", ("g", "saw")))
        log.write_host("g", "bypass", -1, (5, 6))
        log.write_host("h", "bypass", -1, (1,))
        log.write_host("g", "down", -1, ())
    hosts = read_stamped_log(path).hosts
    assert hosts["g"].ended_down and not hosts["h"].ended_down
    assert '# host ["g", "down", {}]' in path.read_text()


def test_the_host_lines_of_a_module_made_again_under_its_id_read_back_apart(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.log"
    with StampedLog(path, 48000, 128) as log:
        log.write_host("g", "host", 3, ())
        log.write_host("g", "host", 1, (), life=1)
        log.write_host("g", "bypass", -1, (700, 701))  # the first, closing late
        log.write_host("g", "bypass", -1, (0, 2), life=1)
        log.write_host("g", "down", -1, (), life=2)
    first = read_stamped_log(path).hosts["g"]
    second, third = first.later
    assert (first.fresh, first.bypassed) == ({3}, {700, 701})
    assert (second.fresh, second.bypassed) == ({1}, {0, 2})
    assert third.ended_down and not (first.ended_down or second.ended_down)
    assert first.life(0) is first and first.life(2) is third
    assert '# host ["g", "host", {"call": 1, "life": 1}]' in path.read_text()
    with open(path, "a") as file:
        file.write('# host ["g", "host", {"call": 1, "life": -1}]\n')
    with pytest.raises(ValueError, match="bad host line"):
        read_stamped_log(path)
