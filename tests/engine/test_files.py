"""The files folder: the engine writes under it and nowhere else, never through a symlink,
never into a FIFO or a device (and never blocks on one), never over a file that is not a WAV;
a refused name writes nothing."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest

from chronus.engine.files import FileRefused, FilesFolder
from chronus.session.stamped_log import StampedLog
from chronus.session.wav import WavWriter, read_wav


def _record(folder: FilesFolder, name: str) -> Path:
    """Write a short WAV to `name` as the engine does; its path."""
    with WavWriter(folder.where(name), 48000, opener=folder.opener(name, wav=True)) as writer:
        writer.write(np.full((64, 2), 0.25, dtype=np.float32))
    return writer.path


def _listing(root: Path) -> dict[str, bytes | str]:
    """Everything under `root`: files with their bytes, links with their targets."""
    out: dict[str, bytes | str] = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        if path.is_symlink():
            out[key] = f"-> {os.readlink(path)}"
        elif path.is_file():
            out[key] = path.read_bytes()
        else:
            out[key] = "<other>"
    return out


def test_relative_and_absolute_names_inside_are_written(tmp_path: Path) -> None:
    folder = FilesFolder(tmp_path / "rec")
    assert _record(folder, "take.wav") == tmp_path / "rec" / "take.wav"
    assert _record(folder, "songs/one/take.wav") == tmp_path / "rec" / "songs/one/take.wav"
    assert _record(folder, str(tmp_path / "rec" / "abs.wav")) == tmp_path / "rec" / "abs.wav"
    assert _record(folder, "./dot.wav") == tmp_path / "rec" / "dot.wav"
    frames, rate = read_wav(tmp_path / "rec" / "songs/one/take.wav")
    assert rate == 48000 and frames.shape == (64, 2) and float(frames[0, 0]) == 0.25


def test_an_existing_wav_is_overwritten(tmp_path: Path) -> None:
    folder = FilesFolder(tmp_path)
    _record(folder, "take.wav")
    (tmp_path / "empty.wav").touch()
    with WavWriter(folder.where("take.wav"), 44100, opener=folder.opener("take.wav", True)):
        pass
    frames, rate = read_wav(tmp_path / "take.wav")
    assert frames.shape == (0, 2) and rate == 44100
    _record(folder, "empty.wav")
    assert read_wav(tmp_path / "empty.wav")[0].shape == (64, 2)


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("../escape.wav", "a path with '..' is refused"),
        ("sub/../../escape.wav", "a path with '..' is refused"),
        ("/etc/chronus.wav", "outside the files folder"),
        ("", "not a file name"),
        ("a\0b.wav", "not a file name"),
        (".", "the files folder itself"),
    ],
)
def test_names_outside_the_folder_are_refused(tmp_path: Path, name: str, why: str) -> None:
    folder = FilesFolder(tmp_path / "rec")
    with pytest.raises(FileRefused, match=why):
        folder.where(name)
    with pytest.raises(FileRefused, match=why):
        folder.opener(name, wav=True)
    assert not (tmp_path / "escape.wav").exists()


def test_symlinks_are_refused_and_their_targets_untouched(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.wav").write_bytes(b"RIFF\0\0\0\0WAVE precious")
    root = tmp_path / "rec"
    root.mkdir()
    (root / "link.wav").symlink_to(outside / "precious.wav")
    (root / "dirlink").symlink_to(outside)
    (root / "dangling.wav").symlink_to(outside / "new.wav")
    before = _listing(tmp_path)
    folder = FilesFolder(root)
    for name in ("link.wav", "dirlink/precious.wav", "dirlink/new.wav", "dangling.wav"):
        with pytest.raises(FileRefused, match="symlink"):
            _record(folder, name)
    assert _listing(tmp_path) == before


def test_a_fifo_is_refused_at_once_and_not_opened(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.wav")
    folder = FilesFolder(tmp_path)
    done = threading.Event()
    refused: list[BaseException] = []

    def attempt() -> None:
        try:
            _record(folder, "pipe.wav")
        except FileRefused as exc:
            refused.append(exc)
        done.set()

    threading.Thread(target=attempt, daemon=True).start()
    assert done.wait(5.0), "blocked in open() on a FIFO"
    assert len(refused) == 1 and "not a regular file" in str(refused[0])


def test_a_folder_or_a_device_is_refused(tmp_path: Path) -> None:
    (tmp_path / "dir.wav").mkdir()
    folder = FilesFolder(tmp_path)
    with pytest.raises(FileRefused, match="not a regular file"):
        _record(folder, "dir.wav")
    with pytest.raises(FileRefused, match="outside the files folder"):
        _record(folder, "/dev/null")
    dev = FilesFolder("/dev")
    with pytest.raises(FileRefused, match="not a regular file"):
        _record(dev, "null")


def test_an_existing_file_that_is_not_a_wav_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("my notes\n")
    (tmp_path / "fake.wav").write_text("not riff at all\n")
    before = _listing(tmp_path)
    folder = FilesFolder(tmp_path)
    for name in ("notes.txt", "fake.wav"):
        with pytest.raises(FileRefused, match="not a WAV file"):
            _record(folder, name)
    assert _listing(tmp_path) == before


def test_a_session_log_goes_through_the_same_checks(tmp_path: Path) -> None:
    folder = FilesFolder(tmp_path)
    with StampedLog(folder.where("s.log"), 48000, 128, folder.opener("s.log")):
        pass
    assert (tmp_path / "s.log").read_text().startswith("# chronus session log v1")
    (tmp_path / "link.log").symlink_to(tmp_path / "s.log")
    os.mkfifo(tmp_path / "pipe.log")
    for name, why in (("link.log", "symlink"), ("pipe.log", "not a regular file")):
        with pytest.raises(FileRefused, match=why):
            StampedLog(folder.where(name), 48000, 128, folder.opener(name))
