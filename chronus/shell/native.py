"""Native (LADSPA) plugins at the prompt and on the command line: the scan, named so that no
plugin takes a built-in type's name or a word of the language, and its text view.

The scan runs once per shell (in a background thread, so that the prompt never waits for
it) and feeds `load plugin NAME`, `add a tap reverb …` and their completion.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

from chronus.plugins.ladspa.reference import ladspa_reference
from chronus.plugins.ladspa.scan import Scan, scan

__all__ = ["NativePlugins", "format_scan", "reserved_names", "scan_for_chronus"]


@cache
def reserved_names() -> frozenset[str]:
    """Names no plugin may take: the built-in types and the words of the language."""
    from chronus.dsp.specs import BUILT_IN_TYPES
    from chronus.lang.parser import keywords

    return frozenset(BUILT_IN_TYPES) | keywords()


def scan_for_chronus() -> Scan:
    """The LADSPA scan (see `chronus.plugins.ladspa.scan`) with chronus's reserved names."""
    return scan(reserved=reserved_names())


def format_scan(found: Scan) -> str:
    """`chronus plugins scan`: the plugins by maker, then the libraries that failed."""
    makers = found.by_maker()
    folders = ", ".join(found.folders)
    lines = [f"{len(found.plugins)} LADSPA plugins from {len(makers)} makers in {folders} "
             f"({found.libraries} libraries)"]  # fmt: skip
    if not found.plugins:
        lines.append("no plugins: install swh-plugins, tap-plugins or cmt, or set LADSPA_PATH")
    width = max((len(p.name) for p in found.plugins), default=0)
    for maker, plugins in makers.items():
        lines += ["", f"{maker} ({len(plugins)}; host group {plugins[0].maker_slug})"]
        for plugin in plugins:
            kind = "source" if plugin.source else "effect"
            lines.append(f"  {plugin.name:<{width}}  {kind:<6}  {plugin.layout:<12}  "
                         f"{plugin.title}")  # fmt: skip
    if found.failures:
        lines += ["", f"{len(found.failures)} libraries could not be read:"]
        lines += [f"  {f.path}: {f.kind} — {f.message}" for f in found.failures]
    return "\n".join(lines)


class NativePlugins:
    """The shell's scan: started in the background, asked without waiting."""

    def __init__(self) -> None:
        self._scan: Scan | None = None
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> NativePlugins:
        """Begin the scan in a background thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, daemon=True, name="ladspa-scan")
            self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self._scan = scan_for_chronus()
        except Exception:  # no plugins is better than a broken prompt
            self._scan = Scan()
        finally:
            self._done.set()

    def wait(self, timeout: float | None = None) -> Scan | None:
        """The scan once it is done (starting it if need be); None if not by `timeout`."""
        self.start()
        self._done.wait(timeout)
        return self._scan

    def names(self) -> list[str]:
        """The plugins' type names, if the scan is done (else none yet)."""
        return [] if self._scan is None else self._scan.names()

    def reference(self, name: str, timeout: float = 10.0) -> str | None:
        """What the engine loads for plugin `name` (`<library>#<label>`), or None if the
        scan found no such plugin."""
        found = self.wait(timeout)
        plugin = None if found is None else found.get(name)
        return None if plugin is None else ladspa_reference(plugin.path, plugin.label)

    def describe(self, name: str) -> dict[str, Any] | None:
        """One plugin's description as plain data, or None."""
        plugin = None if self._scan is None else self._scan.get(name)
        return None if plugin is None else plugin.to_dict()
