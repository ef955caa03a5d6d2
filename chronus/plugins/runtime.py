"""A plugin's code in an engine process: imported ahead of need, then put in use at a stamp.

A slot, the spare and an offline render keep every plugin version they were given, by name
and version, so that two versions of one plugin live side by side while a reload is
committed. `prepare` imports a version from the store and warms it (numba loads or compiles
its kernels here, off the render path); `use` — run by the stamped `/plugins/use` command at
its sample, in every slot alike — makes it the class behind the plugin's type name, importing
it first if `prepare` did not. `forget` drops the type name.
"""

from __future__ import annotations

from chronus.dsp.catalog import MODULE_TYPES, register, unregister
from chronus.dsp.module import Module, Processor
from chronus.plugins.isolated import isolated_type
from chronus.plugins.ladspa.reference import split_reference
from chronus.plugins.source import import_plugin

__all__ = ["forget", "imported", "prepare", "use", "use_class"]

_classes: dict[tuple[str, str], type[Module]] = {}
_stand_ins: dict[tuple[str, str], type[Module]] = {}


def imported() -> set[tuple[str, str]]:
    """Every (name, version) this process has imported."""
    return set(_classes)


def _class(name: str, version: str, path: str, rate: int) -> type[Module]:
    cls = _classes.get((name, version))
    if cls is None:
        native = split_reference(path)
        if native is None:
            cls = import_plugin(path, name, version)
        else:  # its ports only: it is made and run in its host, never here
            from chronus.plugins.ladspa.module import load_ladspa_type

            cls = load_ladspa_type(*native, name=name, sample_rate=rate)
        _classes[name, version] = cls
    return cls


def prepare(
    name: str, version: str, path: str, rate: int, block: int, warm: bool = True
) -> list[str]:
    """Import a plugin version and, with `warm`, warm it: made, and a throwaway graph
    rendered with it (a forced load skips that: its module may hang or crash there, and
    its faults are for the slots' guards to meet).

    Returns the warm-up's errors (a module that raises is still imported: a forced load puts
    faulty code in on purpose). Raises what the import raises.
    """
    from chronus.dsp.render import Renderer  # the supervisor imports this module too

    cls = _class(name, version, path, rate)
    if not warm or split_reference(path) is not None:
        return []
    before = MODULE_TYPES.get(name)
    register(cls)  # for the warm-up's graph only: nothing renders meanwhile
    try:
        types = [name] if not issubclass(cls, Processor) else ["saw", name]
        return Renderer(rate, block).warm_up(types)
    except Exception as exc:  # a faulty module must not take the process down here
        return [f"{name}: {type(exc).__name__}: {exc}"]
    finally:
        _restore(name, before)


def use_class(name: str, version: str) -> type[Module]:
    """An imported version's class (`KeyError` if not imported here)."""
    return _classes[name, version]


def use(
    name: str, version: str, path: str, hosting: str = "inline", rate: int = 48000
) -> type[Module]:
    """Make version `version` the class of type `name` (importing it if not yet done); with
    `hosting="isolated"`, its stand-in (`chronus.plugins.isolated`): the module's code runs
    in a host process and its modules here only exchange blocks with it. A native plugin
    is always isolated."""
    cls = _class(name, version, path, rate)
    if hosting == "isolated" or split_reference(path) is not None:
        stand_in = _stand_ins.get((name, version))
        if stand_in is None:
            stand_in = _stand_ins[name, version] = isolated_type(cls)
        cls = stand_in
    register(cls)
    return cls


def forget(name: str) -> None:
    """Drop type `name` (its modules are gone; the imported code stays for a reload)."""
    if name in MODULE_TYPES:
        unregister(name)


def _restore(name: str, before: type[Module] | None) -> None:
    if before is None:
        forget(name)
    else:
        register(before)
