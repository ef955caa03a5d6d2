"""A real terminal for end-to-end tests of the prompt: a tmux session, its keys and its screen.

`Terminal` starts a command in a detached tmux session of a fixed size, types into it
(`send-keys`) and reads what the screen shows (`capture-pane`), so a test sees what a musician
would: the prompt, the toolbar, the lines above it.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import time
import uuid
from collections.abc import Mapping

__all__ = ["Terminal", "tmux_available"]


def tmux_available() -> bool:
    """Whether tmux is installed (CI installs it; see `.ci/run`)."""
    return shutil.which("tmux") is not None


class Terminal:
    """One tmux session running `command` (a list of words) in `cwd` with `env`."""

    def __init__(
        self,
        command: list[str],
        env: Mapping[str, str],
        cwd: str,
        width: int = 120,
        height: int = 40,
    ) -> None:
        self.name = f"chronus-test-{uuid.uuid4().hex[:8]}"
        # A server of its own: the test's sessions never meet a user's tmux.
        self.socket = f"/tmp/{self.name}.sock"
        # `remain-on-exit` keeps the pane after the command ends, so its last screen can be read.
        inner = " ".join(shlex.quote(word) for word in command)
        self._tmux(
            "new-session", "-d", "-s", self.name, "-x", str(width), "-y", str(height),
            "-c", cwd, *(f"-e{key}={value}" for key, value in env.items()), inner,
        )  # fmt: skip
        self._tmux("set-option", "-t", self.name, "remain-on-exit", "on")

    def _tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-S", self.socket, *args], capture_output=True, text=True, timeout=10
        )
        if done.returncode != 0:
            raise RuntimeError(f"tmux {args[0]} failed: {done.stderr.strip()}")
        return done.stdout

    def type(self, line: str, enter: bool = True) -> None:
        """Type `line` as keys (literally), then Enter."""
        self._tmux("send-keys", "-t", self.name, "-l", line)
        if enter:
            self._tmux("send-keys", "-t", self.name, "Enter")

    def keys(self, *names: str) -> None:
        """Press named keys (tmux names: `C-c`, `C-d`, `Escape`, `F12`, `Tab`, `Up`)."""
        self._tmux("send-keys", "-t", self.name, *names)

    def screen(self, escapes: bool = False) -> str:
        """What the terminal shows now, one string, trailing blanks stripped per line (with
        the colour codes if `escapes`)."""
        text = self._tmux("capture-pane", "-p", *(["-e"] if escapes else []), "-t", self.name)
        return "\n".join(line.rstrip() for line in text.splitlines())

    def history(self) -> list[str]:
        """Every line the pane holds, its scrollback first, wrapped lines joined, trailing
        blanks stripped."""
        text = self._tmux("capture-pane", "-p", "-J", "-S", "-", "-t", self.name)
        return [line.rstrip() for line in text.splitlines()]

    def clear_history(self) -> None:
        """Forget the scrollback (the screen stays)."""
        self._tmux("clear-history", "-t", self.name)

    def keep_output(self, path: str) -> None:
        """Append everything the command writes (with its escapes) to the file `path`."""
        self._tmux("pipe-pane", "-o", "-t", self.name, f"cat >> {shlex.quote(path)}")

    def pane_pid(self) -> int:
        """The pid of the command the pane runs."""
        return int(self._tmux("display-message", "-p", "-t", self.name, "#{pane_pid}").strip())

    def wait_for(self, pattern: str, timeout: float = 20.0) -> str:
        """The screen once it matches the regular expression `pattern`; AssertionError with
        the last screen if it does not within `timeout` seconds."""
        regex = re.compile(pattern, re.MULTILINE)
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if regex.search(screen):
                return screen
            time.sleep(0.1)
        raise AssertionError(f"the screen never showed {pattern!r}; it shows:\n{screen}")

    def finished(self) -> bool:
        """Whether the command in the pane has exited."""
        return self._tmux("display-message", "-p", "-t", self.name, "#{pane_dead}").strip() == "1"

    def wait_finished(self, timeout: float = 20.0) -> None:
        """Wait until the command exits; AssertionError with the screen if it does not."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.finished():
                return
            time.sleep(0.1)
        raise AssertionError(f"the command did not exit; the screen shows:\n{self.screen()}")

    def close(self) -> None:
        """End the session and its tmux server."""
        subprocess.run(["tmux", "-S", self.socket, "kill-server"], capture_output=True, timeout=10)
        try:
            os.unlink(self.socket)
        except FileNotFoundError:
            pass
