"""The one folder the engine writes files in (`--files`; default `recordings/`).

A client names a file (`/record/start take.wav`) and the engine writes it under the folder,
never anywhere else (only the engine's own command line may name an absolute path elsewhere:
`for_operator`): a name with `..`, an absolute path outside the folder, a path through a
symlink, a name that is a FIFO, a device, a folder or any other non-regular file, and an
existing file that is not a WAV (for a recording) are refused with `FileRefused`, and nothing
is written. Folders are walked one at a time with `O_NOFOLLOW` from the folder's own
descriptor, so a symlink swapped in meanwhile is refused too, and the file is opened
`O_NONBLOCK`, so a FIFO cannot hold the engine in `open()`.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from pathlib import Path, PurePosixPath

__all__ = ["DEFAULT_FOLDER", "FILES_ENV", "FileRefused", "FilesFolder", "default_folder"]

DEFAULT_FOLDER = "recordings"
"""The files folder, relative to the engine's working directory, unless `--files` (or the
environment's `CHRONUS_FILES`) says."""
FILES_ENV = "CHRONUS_FILES"
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_SAFE_FLAGS = os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_WAV_MAGIC = (b"RIFF", b"WAVE")


def default_folder() -> str:
    """`CHRONUS_FILES` if set, else `DEFAULT_FOLDER`."""
    return os.environ.get(FILES_ENV, "").strip() or DEFAULT_FOLDER


class FileRefused(ValueError):
    """A file the engine will not write; the text says why."""


class FilesFolder:
    """Where the engine may write: `root` and the folders under it.

    >>> folder = FilesFolder("/srv/chronus/recordings")
    >>> str(folder.where("takes/one.wav"))
    '/srv/chronus/recordings/takes/one.wav'
    >>> folder.where("../notes.txt")
    Traceback (most recent call last):
    ...
    chronus.engine.files.FileRefused: a path with '..' is refused: ../notes.txt
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(os.path.realpath(root))

    def _parts(self, name: str) -> tuple[str, ...]:
        if not name or "\0" in name:
            raise FileRefused(f"not a file name: {name!r}")
        path = PurePosixPath(name)
        if ".." in path.parts:
            raise FileRefused(f"a path with '..' is refused: {name}")
        if path.is_absolute():
            try:
                path = path.relative_to(self.root)
            except ValueError:
                raise FileRefused(
                    f"{name} is outside the files folder {self.root}; name a file in it"
                ) from None
        parts = tuple(part for part in path.parts if part != ".")
        if not parts:
            raise FileRefused(f"{name} is the files folder itself, not a file in it")
        return parts

    def for_operator(self, name: str) -> tuple[FilesFolder, str]:
        """Where a file named on the engine's own command line (`--log`, `--record`) goes: a
        relative name under this folder, an absolute path where it says. Whoever starts the
        engine may write where they can (the shell keeps its session logs in its data
        folder); OSC clients may not. The file itself is checked alike (no symlink, no FIFO,
        no device)."""
        path = PurePosixPath(name)
        if not path.is_absolute() or ".." in path.parts:
            return self, name
        return FilesFolder(path.parent), path.name

    def where(self, name: str) -> Path:
        """The absolute path `name` stands for (relative names are under the folder)."""
        return self.root.joinpath(*self._parts(name))

    def opener(self, name: str, wav: bool = False) -> Callable[[str, int], int]:
        """An `opener` for `open()` that opens `name` under the folder, or refuses it.

        With `wav`, an existing file must be a WAV (or empty) to be overwritten.
        """
        parts = self._parts(name)

        def open_checked(_: str, flags: int) -> int:
            return self._open(parts, flags, name, wav)

        return open_checked

    def _open(self, parts: tuple[str, ...], flags: int, name: str, wav: bool) -> int:
        try:
            self.root.mkdir(parents=True, exist_ok=True)  # made when first written in
            dir_fd = os.open(self.root, _DIR_FLAGS)
        except OSError as exc:
            raise FileRefused(f"the files folder {self.root}: {exc.strerror}") from None
        try:
            for part in parts[:-1]:
                try:
                    os.mkdir(part, 0o755, dir_fd=dir_fd)
                except FileExistsError:
                    pass
                try:
                    inner = os.open(part, _DIR_FLAGS, dir_fd=dir_fd)
                except OSError as exc:
                    raise FileRefused(_refusal(name, part, exc)) from None
                os.close(dir_fd)
                dir_fd = inner
            _check_existing(parts[-1], dir_fd, name)
            truncate = flags & os.O_TRUNC
            if wav:  # to read what is there before deciding to overwrite it
                flags = (flags & ~os.O_ACCMODE) | os.O_RDWR
            try:
                fd = os.open(parts[-1], (flags & ~os.O_TRUNC) | _SAFE_FLAGS, 0o644, dir_fd=dir_fd)
            except OSError as exc:
                raise FileRefused(_refusal(name, parts[-1], exc)) from None
        finally:
            os.close(dir_fd)
        try:
            _check_opened(fd, name, wav)
            if truncate:
                os.ftruncate(fd, 0)
            os.set_blocking(fd, True)
        except BaseException:
            os.close(fd)
            raise
        return fd


def _refusal(name: str, part: str, exc: OSError) -> str:
    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
        return f"{name}: {part} is a symlink or not a folder; refused"
    return f"{name}: {exc.strerror}"


def _check_existing(part: str, dir_fd: int, name: str) -> None:
    """Refuse a name that is there and not a regular file, before opening it (a device's
    open may do something)."""
    try:
        mode = os.lstat(part, dir_fd=dir_fd).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISREG(mode):
        raise FileRefused(f"{name} is not a regular file (a symlink, FIFO, device or folder)")


def _check_opened(fd: int, name: str, wav: bool) -> None:
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        raise FileRefused(f"{name} is not a regular file (a symlink, FIFO, device or folder)")
    if wav and info.st_size > 0:
        head = os.pread(fd, 12, 0)
        if (head[:4], head[8:12]) != _WAV_MAGIC:
            raise FileRefused(f"{name} exists and is not a WAV file; it is left as it is")
