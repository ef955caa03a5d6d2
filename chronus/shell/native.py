"""Native (LADSPA) plugins at the prompt and on the command line: the scan, named so that no
plugin takes a built-in type's name or a word of the language, and its text view.

The shell scans once as it starts, in a background thread (the prompt never waits for it),
and declares what it found to the language (`chronus.lang.native`): `load plugin NAME`,
`add a tap reverb …` and their completion read it from there.
"""

from __future__ import annotations

import logging
import threading
from functools import cache

from chronus.lang.native import NativePlugin, declare_native
from chronus.plugins.ladspa.reference import ladspa_reference
from chronus.plugins.ladspa.scan import Scan, scan

__all__ = ["declare_scan", "format_scan", "reserved_names", "scan_for_chronus", "scan_later"]

log = logging.getLogger(__name__)


@cache
def reserved_names() -> frozenset[str]:
    """Names no plugin may take: the built-in types and the words of the language."""
    from chronus.dsp.specs import BUILT_IN_TYPES
    from chronus.lang.parser import keywords

    return frozenset(BUILT_IN_TYPES) | keywords()


def scan_for_chronus() -> Scan:
    """The LADSPA scan (see `chronus.plugins.ladspa.scan`) with chronus's reserved names."""
    return scan(reserved=reserved_names())


def declare_scan(found: Scan) -> None:
    """Tell the language which native plugins there are."""
    declare_native(
        NativePlugin(p.name, ladspa_reference(p.path, p.label), p.title, p.maker_name)
        for p in found.plugins
    )


def scan_later() -> threading.Thread:
    """Scan in a background thread and declare what it finds; the thread, started."""

    def run() -> None:
        try:
            declare_scan(scan_for_chronus())
        except Exception:  # no native plugins is better than a broken prompt
            log.exception("the LADSPA scan failed")

    thread = threading.Thread(target=run, daemon=True, name="ladspa-scan")
    thread.start()
    return thread


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
            kind = "silent" if not plugin.audio_out else "source" if plugin.source else "effect"
            lines.append(f"  {plugin.name:<{width}}  {kind:<6}  {plugin.layout:<12}  "
                         f"{plugin.title}")  # fmt: skip
    if found.failures:
        lines += ["", f"{len(found.failures)} libraries could not be read:"]
        lines += [f"  {f.path}: {f.kind} — {f.message}" for f in found.failures]
    if found.plugins:
        lines += ["", "load one at the prompt: load plugin NAME (a silent one has no audio "
                  "output: nothing to play)"]  # fmt: skip
    return "\n".join(lines)
