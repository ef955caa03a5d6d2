"""WAV files that stay readable if the writer dies.

`WavWriter` writes a complete header first and rewrites the two size fields after every
`write`, so a file cut off by a crash is still a valid WAV of everything written so far.
Formats: 32-bit float (exact; the default) and 16-bit PCM.
"""

from __future__ import annotations

import errno
import os
import struct
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO, Literal

import numpy as np
import numpy.typing as npt

__all__ = [
    "Opener",
    "WavFormat",
    "WavWriter",
    "max_frames",
    "read_wav",
    "stream_wav",
    "write_wav",
]

WavFormat = Literal["float32", "pcm16"]

Opener = Callable[[str, int], int]
"""What `open()` takes as `opener`: (path, flags) → file descriptor."""

_FORMAT_TAGS = {"float32": (3, 4), "pcm16": (1, 2)}


class WavWriter:
    """Append frames to a WAV file, keeping its header valid after each write.

    A write that fails (a full disk: OSError) leaves the file as it was before it: the data
    is cut back to the frames the header counts, and the error is raised. `opener` is
    passed to `open()` (the engine's files folder checks the path with it).
    """

    def __init__(
        self, path: str | os.PathLike[str], rate: int, channels: int = 2,
        fmt: WavFormat = "float32", opener: Opener | None = None,
    ) -> None:  # fmt: skip
        self.path = Path(path)
        self.rate = rate
        self.channels = channels
        self.format = fmt
        self.tag, self.sample_bytes = _FORMAT_TAGS[fmt]
        self.frames = 0
        # Unbuffered: what a failed write leaves is in the file, not in a buffer that a
        # later flush would try to write again.
        self._file: BinaryIO = open(self.path, "wb", buffering=0, opener=opener)
        self._data_start = 0
        try:
            self._write_header()
        except BaseException:
            self._file.close()
            raise

    @classmethod
    def reopen(cls, path: str | os.PathLike[str], rate: int, channels: int = 2) -> WavWriter:
        """Go on writing a float32 file this class wrote (its writer died): its frames are
        those its header counts; anything after them (a torn write) is cut off. ValueError if
        it is not such a file at `rate` and `channels`; OSError if it cannot be opened (a
        symlink is refused)."""
        fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
        writer = cls.__new__(cls)
        writer.path, writer.rate, writer.channels = Path(path), rate, channels
        writer.format = "float32"
        writer.tag, writer.sample_bytes = _FORMAT_TAGS["float32"]
        writer._file = open(fd, "r+b", buffering=0)
        try:
            head = os.pread(fd, 64, 0)
            probe = cls.__new__(cls)
            probe.rate, probe.channels, probe.frames = rate, channels, 0
            probe.tag, probe.sample_bytes = writer.tag, writer.sample_bytes
            expected = probe._header_bytes()  # all but the sizes must be the same
            size_free = (slice(8, 44), slice(len(expected) - 8, len(expected) - 4))
            if len(head) < len(expected) or any(head[s] != expected[s] for s in size_free):
                raise ValueError(f"{path} is not a float32 WAV at {rate} Hz, {channels} channels")
            data_bytes = struct.unpack("<I", head[len(expected) - 4 : len(expected)])[0]
            writer.frames = data_bytes // (channels * writer.sample_bytes)
            writer._data_start = len(expected)
            writer._cut_back()
            writer._write_header()
        except BaseException:
            writer._file.close()
            raise
        return writer

    def _header_bytes(self) -> bytes:
        data_bytes = self.frames * self.channels * self.sample_bytes
        block_align = self.channels * self.sample_bytes
        fact = self.tag == 3
        header_rest = 4 + (8 + 16) + (12 if fact else 0) + 8
        header = b"RIFF" + struct.pack("<I", header_rest + data_bytes) + b"WAVE"
        header += b"fmt " + struct.pack(
            "<IHHIIHH", 16, self.tag, self.channels, self.rate,
            self.rate * block_align, block_align, 8 * self.sample_bytes,
        )  # fmt: skip
        if fact:
            header += b"fact" + struct.pack("<II", 4, self.frames)
        header += b"data" + struct.pack("<I", data_bytes)
        return header

    def _write_header(self) -> None:
        header = self._header_bytes()
        self._data_start = len(header)
        self._file.seek(0)
        self._write_all(header)
        self._file.seek(0, os.SEEK_END)

    def _write_all(self, data: bytes | memoryview) -> None:
        view = memoryview(data).cast("B")
        while view:
            written = self._file.write(view)
            view = view[written or 0 :]

    def write(self, frames: npt.NDArray[np.floating]) -> None:
        """Append (n, channels) samples in −1..1, then make the header match.

        OSError if it cannot (a full disk; EFBIG past the 4 GiB a WAV can hold), with the
        file as it was before.
        """
        if frames.ndim != 2 or frames.shape[1] != self.channels:
            raise ValueError(f"expected shape (n, {self.channels}), got {frames.shape}")
        if self.frames + len(frames) > max_frames(self.channels, self.format):
            limit = max_frames(self.channels, self.format)
            raise OSError(errno.EFBIG, f"a WAV holds at most {limit} frames (4 GiB)")
        if self.format == "float32":
            data = np.ascontiguousarray(frames, dtype="<f4")
        else:
            clipped = np.clip(frames, -1.0, 1.0) * 32767.0
            data = np.ascontiguousarray(np.round(clipped), dtype="<i2")
        try:
            self._write_all(data.data)
        except OSError:
            self._cut_back()
            raise
        self.frames += len(frames)
        self._write_header()

    def _cut_back(self) -> None:
        """Drop what a failed write left after the frames the header counts."""
        try:
            self._file.truncate(self._data_start + self.frames * self.channels * self.sample_bytes)
            self._file.seek(0, os.SEEK_END)
        except OSError:
            pass  # the header still counts only whole writes; readers go by it

    def close(self) -> None:
        """Flush to disk and close (closed even if the flush fails, which raises)."""
        if not self._file.closed:
            try:
                os.fsync(self._file.fileno())
            finally:
                self._file.close()

    def __enter__(self) -> WavWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def max_frames(channels: int = 2, fmt: WavFormat = "float32") -> int:
    """The most frames a WAV holds: its sizes are 32-bit (4 GiB).

    >>> max_frames(2, "float32")
    536870904
    """
    tag, sample_bytes = _FORMAT_TAGS[fmt]
    header = 12 + 8 + 16 + (12 if tag == 3 else 0) + 8
    return (2**32 - 1 - header) // (channels * sample_bytes)


def write_wav(
    path: str | os.PathLike[str], frames: npt.NDArray[np.floating], rate: int,
    fmt: WavFormat = "float32",
) -> None:  # fmt: skip
    """Write a whole file atomically: a temporary file, then a rename."""
    stream_wav(path, [frames], rate, frames.shape[1], fmt)


def stream_wav(
    path: str | os.PathLike[str], pieces: Iterable[npt.NDArray[np.floating]], rate: int,
    channels: int = 2, fmt: WavFormat = "float32",
) -> tuple[int, float]:  # fmt: skip
    """Write the pieces one after the other as one file, atomically (a temporary file, then a
    rename), holding one piece at a time; the frames written and their peak. What raises
    while the pieces are made or written leaves no file."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    peak = 0.0
    try:
        with WavWriter(tmp, rate, channels, fmt) as writer:
            for piece in pieces:
                writer.write(piece)
                if len(piece):
                    peak = max(peak, float(np.abs(piece).max()))
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return writer.frames, peak


def read_wav(path: str | os.PathLike[str]) -> tuple[npt.NDArray[np.float32], int]:
    """Read a float32 or 16-bit PCM WAV as float32 (n, channels) and its sample rate."""
    raw = Path(path).read_bytes()
    if raw[:4] != b"RIFF" or raw[8:12] != b"WAVE":
        raise ValueError(f"{path}: not a WAV file")
    pos = 12
    tag = channels = rate = bits = 0
    while pos + 8 <= len(raw):
        chunk, size = raw[pos : pos + 4], struct.unpack("<I", raw[pos + 4 : pos + 8])[0]
        body = raw[pos + 8 : pos + 8 + size]
        if chunk == b"fmt ":
            tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", body[:16])
        elif chunk == b"data":
            if tag == 3 and bits == 32:
                samples = np.frombuffer(body, dtype="<f4").astype(np.float32)
            elif tag == 1 and bits == 16:
                samples = np.frombuffer(body, dtype="<i2").astype(np.float32) / 32768.0
            else:
                raise ValueError(f"{path}: unsupported WAV format (tag {tag}, {bits} bits)")
            return samples.reshape(-1, channels), rate
        pos += 8 + size + (size & 1)
    raise ValueError(f"{path}: no data chunk")
