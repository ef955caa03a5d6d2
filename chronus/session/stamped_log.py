"""The live session log: every command the engine applied, stamped with its sample.

Rendering the log offline reproduces a live session sample-exactly. The format is UTF-8
text, one command per line, after a header line::

    # chronus session log v1 rate=48000 block=128
    48128\t/note/bass\t[36.0, 100.0, 0.25]

Arguments are a JSON array; JSON writes floats with `repr`, so they read back bit-exact.
Each line is flushed as it is written, so a crash loses at most a torn last line, which the
reader skips.

A commit (blue/green, see `chronus.engine.commit`) is one line for the commit followed by the
commands it applied, all at the sample the new slot applied them::

    96000\t/patch/commit\t[107520, 2432, 2]
    96000\t/patch/create\t["d", "distortion"]
    96000\t/patch/connect\t["d", "master"]

The arguments say where the crossfade from the old sound to the new began (a sample), how
long it was (samples; 0 for a switch without one) and how many command lines follow. Until
that sample the old sound played; a replay renders both, as the engine did.

An engine that stops cleanly ends its log with ``# end of session at sample 576000``. Where a
recording began is a comment too, its file as a JSON string:
``# recording from sample 6144 "/home/me/take1.wav"`` (the take's first frame is that sample
of an offline render). A supervisor that took over a running engine (its predecessor
died) notes it, ``# supervisor replaced at sample 960000 (supervisor 2)``, and logs after it
the commands its predecessor had sent the slots but not logged yet.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

from chronus.dsp.rates import block_problem, rate_problem
from chronus.protocol import Message, validate
from chronus.session.wav import Opener

__all__ = [
    "Commit",
    "HostCalls",
    "LogSummary",
    "StampedLog",
    "StampedSession",
    "is_session_log",
    "read_stamped_log",
    "summarise_log",
]

_HEADER = re.compile(r"# chronus session log v1 rate=([0-9]+) block=([0-9]+)")
_SAMPLE = re.compile(r"[0-9]+")
_END = "# end of session at sample"
_RECORDING = "# recording from sample"
_TAKEOVER = "# supervisor replaced at sample"
_HOST = "# host"
_LIVES = 100_000
"""A host line's module made again under its id at most this many times (a bound against a
forged log)."""


def is_session_log(path: str | os.PathLike[str]) -> bool:
    """Whether `path` starts like a session log (False if it cannot be read)."""
    try:
        with open(path, "rb") as file:
            first = file.readline(200).decode("utf-8", errors="replace")
    except OSError:
        return False
    return _HEADER.fullmatch(first.rstrip("\n")) is not None


def _header(rate: int, block: int) -> str:
    return f"# chronus session log v1 rate={rate} block={block}\n"


def _parse_header(line: str, path: Path) -> tuple[int, int]:
    match = _HEADER.fullmatch(line.rstrip("\n"))
    if match is None:
        raise ValueError(f"{path}:1: not a chronus session log header: {line[:60]!r}")
    rate, block = int(match[1]), int(match[2])
    if (problem := rate_problem(rate) or block_problem(block)) is not None:
        raise ValueError(f"{path}:1: {problem}")
    return rate, block


def _json(text: str) -> object:
    """A line's JSON arguments; ValueError (never RecursionError) if they are not JSON."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("arguments nested too deeply") from None


def _parse_command(line: str) -> tuple[int, Message]:
    parts = line.split("\t", 2)
    if len(parts) != 3:
        raise ValueError(f"expected <sample>\\t<address>\\t<json args>, got {line[:60]!r}")
    sample_text, address, args_text = parts
    if not _SAMPLE.fullmatch(sample_text):
        raise ValueError(f"sample must be a non-negative integer, got {sample_text!r}")
    args = _json(args_text)
    if not isinstance(args, list):
        raise ValueError(f"arguments must be a JSON array, got {args_text!r}")
    return int(sample_text), validate(address, args)


def _parse_recording(line: str) -> tuple[int, str]:
    sample_text, _, path_text = line[len(_RECORDING) + 1 :].partition(" ")
    path = json.loads(path_text) if _SAMPLE.fullmatch(sample_text) else None
    if not isinstance(path, str):
        raise ValueError(f"expected {_RECORDING} <sample> <JSON string>, got {line[:60]!r}")
    return int(sample_text), path


def _complete(raw: bytes) -> bool:
    try:
        text = raw.decode("utf-8")
        if text.split("\t", 2)[1:2] == [COMMIT]:
            _parse_commit(text)
        else:
            _parse_command(text)
    except ValueError:
        return False
    return True


COMMIT = "/patch/commit"


@dataclass(frozen=True, slots=True)
class Commit:
    """A committed change: applied at `stamp` by the new slot, heard from `switch` on, through
    an equal-power crossfade `crossfade` samples long."""

    stamp: int
    switch: int
    crossfade: int
    messages: tuple[Message, ...]


def _parse_commit(line: str) -> tuple[int, int, int, int]:
    """(stamp, switch, crossfade, number of commands) of a commit line."""
    sample_text, _, args_text = line.split("\t", 2)
    if not _SAMPLE.fullmatch(sample_text):
        raise ValueError(f"sample must be a non-negative integer, got {sample_text!r}")
    args = _json(args_text)
    if (
        not isinstance(args, list)
        or len(args) != 3
        or not all(isinstance(a, int) and not isinstance(a, bool) and a >= 0 for a in args)
        or args[0] < int(sample_text)
    ):
        raise ValueError(
            f"a commit line needs [switch sample ≥ its own, crossfade samples, commands], "
            f"got {args_text!r}"
        )
    return int(sample_text), int(args[0]), int(args[1]), int(args[2])


class StampedLog:
    """Append stamped commands to a session log, one flushed line each.

    A new or empty file gets the header; an existing log is appended to if its header has the
    same rate and block (ValueError otherwise). An unterminated last line left by a crash is
    cut off first if unparsable (as the reader skips it), else given its newline, so the next
    line does not run into it. `opener` is passed to `open()` (the engine's files folder
    checks the path with it).
    """

    def __init__(
        self, path: str | os.PathLike[str], rate: int, block: int, opener: Opener | None = None
    ) -> None:
        self.path = Path(path)
        self.rate = rate
        self.block = block
        self._file: TextIO = open(self.path, "a+", encoding="utf-8", newline="\n", opener=opener)
        try:
            self._prepare()
        except BaseException:
            self._file.close()
            raise

    def _prepare(self) -> None:
        # Bytes, not text: the torn tail may end inside a multi-byte character.
        raw = self.path.read_bytes()
        if not raw:
            self._file.write(_header(self.rate, self.block))
            self._file.flush()
            return
        first = raw.split(b"\n", 1)[0].decode("utf-8", errors="replace")
        rate, block = _parse_header(first, self.path)
        if (rate, block) != (self.rate, self.block):
            raise ValueError(
                f"{self.path} was logged at rate={rate} block={block}, "
                f"not rate={self.rate} block={self.block}"
            )
        if not raw.endswith(b"\n"):
            cut = raw.rfind(b"\n") + 1
            if _complete(raw[cut:]):
                self._file.write("\n")  # the reader keeps it, so keep it whole
            else:
                self._file.truncate(cut)
                self._file.seek(0, os.SEEK_END)
            self._file.flush()

    @staticmethod
    def line(sample: int, message: Message) -> str:
        """The line (without its newline) that logs `message` applied at `sample`."""
        if isinstance(sample, bool) or not isinstance(sample, int) or sample < 0:
            raise ValueError(f"sample must be a non-negative integer, got {sample!r}")
        args = json.dumps(list(message.args), ensure_ascii=False, allow_nan=False)
        return f"{sample}\t{message.address}\t{args}"

    def write(self, sample: int, message: Message) -> None:
        """Append one command applied at `sample` and flush it to the OS."""
        self._file.write(f"{self.line(sample, message)}\n")
        self._file.flush()

    def last_commands(self, limit: int = 64, tail_bytes: int = 1 << 18) -> list[str]:
        """The last command lines (at most `limit`, from the last `tail_bytes` of the file),
        oldest first: where a supervisor that takes over the log finds how far it got."""
        with open(self.path, "rb") as file:
            file.seek(max(0, file.seek(0, os.SEEK_END) - tail_bytes))
            raw = file.read()
        found: list[str] = []
        for chunk in reversed(raw.split(b"\n")[1:]):
            text = chunk.decode("utf-8", errors="replace")
            if text and not text.startswith("#") and text.split("\t", 2)[1:2] != [COMMIT]:
                found.append(text)
                if len(found) == limit:
                    break
        return found[::-1]

    def mark_takeover(self, sample: int, supervisors: int) -> None:
        """Note that a new supervisor took the engine over at `sample` (a comment line); the
        commands its predecessor had not logged yet follow."""
        self._file.write(f"{_TAKEOVER} {int(sample)} (supervisor {int(supervisors) + 1})\n")
        self._file.flush()

    def write_commit(
        self, stamp: int, switch: int, crossfade: int, messages: list[Message]
    ) -> None:
        """Append a commit: its line, then its commands at `stamp`; flushed once, at the end.

        A crash in the middle leaves a commit with too few commands, which the reader drops.
        """
        if not 0 <= stamp <= switch or crossfade < 0:
            raise ValueError(f"bad commit: stamp {stamp}, switch {switch}, crossfade {crossfade}")
        self._file.write(f"{stamp}\t{COMMIT}\t{json.dumps([switch, crossfade, len(messages)])}\n")
        for message in messages:
            args = json.dumps(list(message.args), ensure_ascii=False, allow_nan=False)
            self._file.write(f"{stamp}\t{message.address}\t{args}\n")
        self._file.flush()

    def mark_recording(self, sample: int, path: str) -> None:
        """Note that a recording to `path` begins at `sample` (a comment line)."""
        self._file.write(f"{_RECORDING} {int(sample)} {json.dumps(path, ensure_ascii=False)}\n")
        self._file.flush()

    def write_host(
        self, module_id: str, kind: str, call: int, bypassed: tuple[int, ...], life: int = 0
    ) -> None:
        """Note what an isolated module's host did (a comment line): a host started serving
        at call `call` (`kind` "host"), calls were bypassed (`kind` "bypass"; written as
        runs of consecutive calls), or, at the end, none was serving (`kind` "down"). A
        module made again under the id of an earlier one (`life` > 0: how many were made
        before it) says so, so that the lines of the two are never mixed."""
        record: dict[str, Any] = {"runs": _runs(bypassed)}
        if kind == "host":
            record = {"call": call}
        elif kind == "down":
            record = {}
        if life:
            record["life"] = life
        self._file.write(f"{_HOST} {json.dumps([module_id, kind, record])}\n")
        self._file.flush()

    def mark_end(self, sample: int) -> None:
        """Note where the session stopped (a comment line: older readers skip it)."""
        self._file.write(f"{_END} {int(sample)}\n")
        self._file.flush()

    def close(self) -> None:
        """Flush to disk and close."""
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()

    def __enter__(self) -> StampedLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


@dataclass(slots=True)
class HostCalls:
    """An isolated module's calls that were bypassed, those its hosts started at, and
    whether no host served it when the session ended (calls past the log are bypassed)."""

    bypassed: set[int] = field(default_factory=set)
    fresh: set[int] = field(default_factory=set)
    ended_down: bool = False
    later: list[HostCalls] = field(default_factory=list)
    """The calls of the modules made again under the same id, in order (the first's:
    `later[0]`)."""

    def life(self, life: int) -> HostCalls:
        """The calls of the module made `life` modules after this one under its id (0:
        this one's), made empty if the log says nothing of it."""
        while len(self.later) < life:
            self.later.append(HostCalls())
        return self if life == 0 else self.later[life - 1]


def _runs(calls: tuple[int, ...]) -> list[list[int]]:
    """Calls as runs of consecutive ones, `[first, last]` each."""
    runs: list[list[int]] = []
    for call in sorted(calls):
        if runs and call == runs[-1][1] + 1:
            runs[-1][1] = call
        else:
            runs.append([call, call])
    return runs


def _parse_host(text: str, hosts: dict[str, HostCalls]) -> None:
    data = _json(text)
    if not (isinstance(data, list) and len(data) == 3 and isinstance(data[2], dict)):
        raise ValueError(f"bad host line: {text!r}")
    module_id, kind, record = data
    life = record.get("life", 0)
    if not (isinstance(life, int) and 0 <= life <= _LIVES):
        raise ValueError(f"bad host line: {text!r}")
    try:
        calls = hosts.setdefault(str(module_id), HostCalls()).life(life)
        if kind == "host":
            calls.fresh.add(int(record["call"]))
        elif kind == "down":
            calls.ended_down = True
        else:
            for first, last in record["runs"]:
                calls.bypassed.update(range(int(first), int(last) + 1))
    except (KeyError, TypeError) as exc:
        raise ValueError(f"bad host line: {text!r}") from exc


@dataclass(frozen=True, slots=True)
class StampedSession:
    """A session log read back: its rate, block size, (sample, message) in file order, and
    the commits (whose commands are not in `commands`: only the new sound had them)."""

    rate: int
    block: int
    commands: list[tuple[int, Message]]
    commits: list[Commit] = field(default_factory=list)
    stopped: int = 0
    """The sample at which the engine stopped, if it said (0 if not)."""
    recordings: list[tuple[int, str]] = field(default_factory=list)
    """(first sample, file) of each recording the engine began, in order."""
    hosts: dict[str, HostCalls] = field(default_factory=dict)
    """What the hosts of isolated modules did, by module id."""

    @property
    def end(self) -> int:
        """Where the session ends: where the engine stopped, or else the last sample any
        command or crossfade names."""
        ends = [sample for sample, _ in self.commands]
        ends += [commit.switch + commit.crossfade for commit in self.commits]
        return max([*ends, self.stopped], default=0)


def read_stamped_log(path: str | os.PathLike[str]) -> StampedSession:
    """Read a session log, rebuilding each message through `validate`.

    Blank lines and `#` comments are skipped, and so is an unparsable last line without a
    newline (torn by a crash). Any other bad line raises ValueError naming its line number.
    """
    source = Path(path)
    lines = source.read_bytes().split(b"\n")
    # After a final newline, split leaves an empty string; otherwise the last line is torn.
    torn = lines.pop()
    if not lines:
        raise ValueError(f"{source}:1: no complete header line")
    rate, block = _parse_header(lines[0].decode("utf-8", errors="replace"), source)
    if torn and _complete(torn):
        lines.append(torn)
    commands: list[tuple[int, Message]] = []
    commits: list[Commit] = []
    open_commit: tuple[int, int, int, int] | None = None
    staged: list[Message] = []
    stopped = 0
    recordings: list[tuple[int, str]] = []
    hosts: dict[str, HostCalls] = {}
    for number, raw in enumerate(lines[1:], start=2):
        try:
            text = raw.decode("utf-8")
            if text.startswith(_END) and _SAMPLE.fullmatch(text[len(_END) + 1 :]):
                stopped = max(stopped, int(text[len(_END) + 1 :]))
            if text.startswith(_RECORDING):
                recordings.append(_parse_recording(text))
            if text.startswith(_HOST + " "):
                _parse_host(text[len(_HOST) + 1 :], hosts)
            if not text.strip() or text.startswith("#"):
                continue
            if text.split("\t", 2)[1:2] == [COMMIT]:
                open_commit, staged = _parse_commit(text), []
            else:
                sample, message = _parse_command(text)
                if open_commit is not None and sample != open_commit[0]:
                    open_commit = None  # cut short by a crash; the log went on after it
                if open_commit is None:
                    commands.append((sample, message))
                else:
                    staged.append(message)
        except ValueError as exc:  # includes UnicodeDecodeError, JSON and protocol errors
            raise ValueError(f"{source}:{number}: {exc}") from exc
        if open_commit is not None and len(staged) == open_commit[3]:
            stamp, switch, crossfade, _ = open_commit
            commits.append(Commit(stamp, switch, crossfade, tuple(staged)))
            open_commit = None
    return StampedSession(rate, block, commands, commits, stopped, recordings, hosts)


@dataclass(frozen=True, slots=True)
class LogSummary:
    """What a glance at a session log tells, without checking every command."""

    rate: int
    commands: int
    """Command lines, a commit's included (its own line is not one)."""
    commits: int
    end: int
    """As `StampedSession.end`."""


def summarise_log(path: str | os.PathLike[str]) -> LogSummary:
    """Count a session log's commands and commits and find its end, without parsing each
    command (an hour's log takes milliseconds, not the tenths of a second `read_stamped_log`
    does). ValueError if its header is not a session log's; lines that are not well formed
    are counted as they look, `read_stamped_log` says what is wrong with them."""
    source = Path(path)
    lines = source.read_bytes().split(b"\n")
    rate, _ = _parse_header(lines[0].decode("utf-8", errors="replace"), source)
    commands = commits = end = 0
    end_mark = _END.encode()
    commit_tab = f"\t{COMMIT}\t".encode()
    for raw in lines[1:]:
        if not raw or raw.startswith(b"#"):
            if raw.startswith(end_mark) and raw[len(end_mark) + 1 :].isdigit():
                end = max(end, int(raw[len(end_mark) + 1 :]))
            continue
        sample, _, rest = raw.partition(b"\t")
        if rest.startswith(commit_tab[1:]):
            commits += 1
            try:
                switch, crossfade, _ = json.loads(rest.split(b"\t", 1)[1])
                end = max(end, int(switch) + int(crossfade))
            except (ValueError, TypeError, IndexError):
                pass
            continue
        commands += 1
        if sample.isdigit():
            end = max(end, int(sample))
    return LogSummary(rate, commands, commits, end)
