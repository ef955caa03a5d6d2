"""Mapping the patch intents: add (with `through` chains and `after`), add a named sound,
route, connect, disconnect and remove (which re-links the chain around the removed module).
"""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise

from chronus.lang.context import PRONOUNS, Context
from chronus.lang.errors import (
    BadValueError,
    UnknownModuleError,
    did_you_mean,
)
from chronus.lang.intents import (
    AddModule,
    AddSound,
    Connect,
    Disconnect,
    Link,
    Remove,
    Route,
)
from chronus.lang.modules import find_param, is_modulator, is_processor, module_types
from chronus.lang.native import joined_type, native_plugins
from chronus.lang.resolve import Mapped, check_name, check_type, module_of
from chronus.lang.sounds import SOUNDS, Sound, sound_parts
from chronus.lang.vocabulary import SIZES, module_type
from chronus.protocol import (
    MASTER,
    Message,
    validate,
)

__all__ = [
    "add_module",
    "add_sound",
    "connect",
    "disconnect",
    "remove",
    "route",
]


def _two_words(intent: AddModule) -> AddModule:
    """`add a tap reverb`: the type `tap_reverb` (a plugin's name in two words) rather than
    a `tap` called `reverb`, when there is no type `tap` and there is one `tap_reverb`."""
    types = module_types()
    if intent.name is None or intent.type in types:
        return intent
    joined = joined_type(intent.type, intent.name, types)
    return intent if joined is None else replace(intent, type=joined, name=None)


def _two_word_link(link: Link) -> Link:
    """`through a tap reverb`: the type `tap_reverb`, as `add a tap reverb` reads it; and
    `through a reverb hall`, a reverb called hall, as `add a reverb hall` reads it."""
    if link.second is None:
        return link
    types = module_types()
    kind = module_type(link.name) or link.name
    joined = None if kind in types else joined_type(link.name, link.second, types)
    if joined is not None:
        return replace(link, name=joined, second=None)
    if kind not in types:
        raise UnknownModuleError(
            f'"{link.name} {link.second}" is neither a module nor a module type',
            column=link.column,
            hint="types: " + " ".join(t for t in types if is_processor(t)),
        )
    if link.called is not None:
        raise BadValueError(
            f'two names for one {kind}: "{link.second}" and "{link.called}"',
            column=link.column,
            hint=f"through a {kind} called {link.called}",
        )
    return replace(link, called=link.second, second=None)


def _loaded(kind: str, column: int) -> None:
    """Refuse a LADSPA plugin's type that the scan found but the engine has not loaded."""
    native = native_plugins().get(kind)
    if native is not None and kind not in module_types():
        raise UnknownModuleError(
            f"{kind} is a LADSPA plugin ({native.title}) that is not loaded",
            column=column,
            hint=f"load plugin {kind}",
        )


def add_module(intent: AddModule, context: Context) -> Mapped:
    intent = _two_words(intent)
    _loaded(intent.type, intent.column("type"))
    # `add a supersw`: the nearest word may be a named sound.
    check_type(intent.type, intent.column("type"), tuple(SOUNDS))
    if intent.name is None:
        module_id = context.new_id(intent.type)
    else:
        module_id = intent.name
        check_name(module_id, intent.type, intent.column("name"), context, set())
    messages = [validate("/patch/create", (module_id, intent.type))]
    sized = SIZES[intent.type][intent.size] if intent.size else ()
    messages += [validate(f"/mod/{module_id}/{name}", (value,)) for name, value in sized]
    group: tuple[str, ...]
    if is_modulator(intent.type):
        if intent.through or intent.after:
            raise BadValueError(
                f"an {intent.type} makes no sound to route; patch it to a parameter",
                column=intent.column("type"),
                hint="lfo on bass cutoff at 1/8",
            )
        return Mapped(intent, tuple(messages), focus=module_id)
    if intent.after is not None:
        after_id, _ = module_of(
            intent.after, context, intent.column("after"), f"add {intent.type} after"
        )
        after_id = _sound_end(after_id, intent.type, context)
        _need_input(module_id, intent.type, intent.column("type"))
        messages += _insert(after_id, [module_id], context)
        group = (after_id, module_id)
    elif intent.through:
        links, created = _links(intent.through, context, {module_id})
        messages += created
        messages += _chain_messages([module_id, *links], [MASTER])
        group = (module_id, *links)
    else:
        messages.append(validate("/patch/connect", (module_id, MASTER)))
        group = (module_id,)
    context.group = group
    return Mapped(intent, tuple(messages), focus=module_id)


def add_sound(intent: AddSound, context: Context) -> Mapped:
    """Every module of the sound, its values, its chain (then `through`) to master, its lfo."""
    sound = SOUNDS[intent.sound]
    if intent.after is not None:
        raise BadValueError(
            f"{sound.spoken} makes its own sound: nothing goes into it, so it cannot go after "
            f"{intent.after}",
            column=intent.column("after"),
            hint=f"add {sound.spoken} on its own, or an effect: add a reverb after {intent.after}",
        )
    head = _sound_head(sound, intent, context)
    members = sound.members(head)
    ids = [module_id for module_id, kind in members if kind != "lfo"]
    links, linked = _links(intent.through, context, {module_id for module_id, _ in members})
    messages = [validate("/patch/create", member) for member in members] + linked
    for module_id, part in zip(ids, sound.parts, strict=True):
        messages += [_value(module_id, part.type, name, value) for name, value in part.values]
    messages += _chain_messages([*ids, *links], [MASTER])
    note = f"{sound.name}: {' → '.join([*ids, *links])} → master"
    modulation = sound.modulation(head)
    if sound.lfo is not None and modulation is not None:
        lfo, target, param = modulation
        messages += [_value(lfo, "lfo", name, value) for name, value in sound.lfo.values]
        messages.append(validate("/patch/modulate", modulation))
        note += f"; {lfo} → {target} {param}"
    context.group = (*ids, *links)
    return Mapped(intent, tuple(messages), focus=head, note=note)


def _sound_head(sound: Sound, intent: AddSound, context: Context) -> str:
    """The head's id: the name given (every part's id checked), else the first free one."""
    if intent.name is not None:
        taken: set[str] = set()
        members = sound.members(intent.name)
        for module_id, kind in members:
            try:
                check_name(module_id, kind, intent.column("name"), context, taken)
            except BadValueError as exc:
                if module_id != intent.name:
                    made = " ".join(m for m, _ in members)
                    exc.hint = f"{sound.spoken} called {intent.name} makes {made}"
                raise
            taken.add(module_id)
        return intent.name
    for n in range(1, 10_000):
        head = sound.head_id(n)
        if not any(module_id in context.modules for module_id, _ in sound.members(head)):
            return head
    raise BadValueError(f"no free name for {sound.spoken}", column=intent.column("type"))


def _value(module_id: str, kind: str, name: str, value: float) -> Message:
    spec = find_param(kind, name)
    assert spec is not None and spec.minimum <= value <= spec.maximum, (kind, name, value)
    return validate(f"/mod/{module_id}/{name}", (value,))


def _need_input(module_id: str, kind: str, column: int) -> None:
    if not is_processor(kind):
        raise BadValueError(
            f"{module_id} is a {kind}: it has no input, so nothing can go through it",
            column=column,
            hint="route through filters and effects: "
            + " ".join(t for t in module_types() if is_processor(t)),
        )


def _links(
    chain: tuple[Link, ...], context: Context, taken: set[str]
) -> tuple[list[str], list[Message]]:
    """The ids of a chain's links (existing modules, or new ones of a type) and the creates."""
    ids: list[str] = []
    created: list[Message] = []
    scratch = context.copy()
    for link in map(_two_word_link, chain):
        if link.called is None and link.name in context.modules:
            module_id, kind = link.name, context.modules[link.name]
        elif link.called is None and link.name in PRONOUNS:
            module_id, kind = module_of(link.name, context, link.column, "through")
        else:
            kind = module_type(link.name) or link.name  # echo → delay, unless a module
            _loaded(kind, link.column)
            if kind not in module_types() and link.called is None:
                known = list(context.modules)
                hint = did_you_mean(link.name, [*known, *module_types()])
                raise UnknownModuleError(
                    f'"{link.name}" is neither a module nor a module type',
                    column=link.column,
                    expected=known,
                    hint=hint or "types: " + " ".join(t for t in module_types()
                                                      if is_processor(t)),
                )  # fmt: skip
            check_type(kind, link.column)
            if link.called is not None:
                module_id = link.called
                check_name(module_id, kind, link.column, context, taken | set(ids))
            else:
                module_id = scratch.new_id(kind)
            scratch.modules[module_id] = kind
            created.append(validate("/patch/create", (module_id, kind)))
        _need_input(module_id, kind, link.column)
        if module_id in ids or module_id in taken:
            raise BadValueError(f"{module_id} is in the chain twice", column=link.column)
        ids.append(module_id)
    return ids, created


def _chain_messages(chain: list[str], ends: list[str]) -> list[Message]:
    out = [validate("/patch/connect", (a, b)) for a, b in pairwise(chain)]
    out += [validate("/patch/connect", (chain[-1], end)) for end in ends]
    return out


def _insert(source: str, chain: list[str], context: Context, column: int = 1) -> list[Message]:
    """Put `chain` right after `source`: what `source` fed now comes after the chain."""
    ends = context.outputs(source) or [MASTER]
    for module_id in chain:
        if module_id in context.modules and source in [module_id, *context.downstream(module_id)]:
            raise BadValueError(
                f"routing {source} through {module_id} would make a loop", column=column
            )
    out = [validate("/patch/disconnect", (source, end)) for end in context.outputs(source)]
    out.append(validate("/patch/connect", (source, chain[0])))
    out += [validate("/patch/connect", (a, b)) for a, b in pairwise(chain)]
    last = chain[-1]
    for end in ends:
        if end != last and (last, end) not in context.connections:
            if end == MASTER or last not in [end, *context.downstream(end)]:
                out.append(validate("/patch/connect", (last, end)))
    # A chain link that was already patched elsewhere keeps its other routes.
    return _dedupe(out, context)


def _dedupe(messages: list[Message], context: Context) -> list[Message]:
    """Only the routes that really change: removals first, then additions, in order."""
    before = set(context.connections)
    after = set(before)
    for message in messages:
        route = (str(message.args[0]), str(message.args[1]))
        if message.address == "/patch/disconnect":
            after.discard(route)
        else:
            after.add(route)
    gone = [r for r in context.connections if r not in after]
    new: list[tuple[str, str]] = []
    for message in messages:
        route = (str(message.args[0]), str(message.args[1]))
        if message.address == "/patch/connect" and route not in before and route not in new:
            new.append(route)
    return [validate("/patch/disconnect", r) for r in gone] + [
        validate("/patch/connect", r) for r in new if r in after
    ]


def route(intent: Route, context: Context) -> Mapped:
    source, kind = module_of(intent.source, context, intent.column("module"), "through")
    if is_modulator(kind):
        raise BadValueError(
            f"{source} is an {kind}: it makes no sound to route",
            column=intent.column("module"),
        )
    links, created = _links(intent.through, context, {source})
    scratch = context.copy()
    for message in created:
        scratch.observe(message)
    messages = created + _insert(source, links, scratch, intent.column("module"))
    context.group = (source, *links)
    return Mapped(intent, tuple(messages), focus=source)


def connect(intent: Connect, context: Context) -> Mapped:
    src, kind = module_of(intent.source, context, intent.column("module"), "connect")
    if is_modulator(kind):
        raise BadValueError(
            f"{src} is an {kind}: it makes no sound; patch it to a parameter",
            column=intent.column("module"),
            hint=f"lfo on {next(iter(context.modules), 'bass')} cutoff",
        )
    if intent.destination == MASTER:
        dst = MASTER
    else:
        dst, dst_kind = module_of(
            intent.destination, context, intent.column("destination"), "connect"
        )
        _need_input(dst, dst_kind, intent.column("destination"))
        if src == dst or src in context.downstream(dst):
            raise BadValueError(
                f"connecting {src} to {dst} would make a loop",
                column=intent.column("destination"),
            )
    if (src, dst) in context.connections:
        raise BadValueError(
            f"{src} is already connected to {dst}", column=intent.column("destination")
        )
    return Mapped(intent, (validate("/patch/connect", (src, dst)),), focus=src)


def disconnect(intent: Disconnect, context: Context) -> Mapped:
    src, _ = module_of(intent.source, context, intent.column("module"), "disconnect")
    if intent.destination is None:
        ends = context.outputs(src)
        if not ends:
            raise BadValueError(f"{src} is not connected", column=intent.column("module"))
    else:
        dst = context.resolve(intent.destination) or intent.destination
        if (src, dst) not in context.connections:
            raise BadValueError(
                f"{src} is not connected to {dst}",
                column=intent.column("destination"),
                hint=("it goes to: " + " ".join(context.outputs(src)))
                if context.outputs(src)
                else "",
            )
        ends = [dst]
    messages = tuple(validate("/patch/disconnect", (src, end)) for end in ends)
    return Mapped(intent, messages, focus=src)


def remove(intent: Remove, context: Context) -> Mapped:
    """`remove f1`: what fed it is linked to where it went. The head of a named sound (the
    clap of `add a clap`) takes along the parts that sound made and that would be silent
    without it: those only the sound feeds, and its lfo if it modulates only those."""
    module_id, _ = module_of(intent.module, context, intent.column("module"), "remove")
    messages: list[Message] = []
    for src in context.inputs(module_id):
        for dst in context.outputs(module_id):
            if src != dst and (src, dst) not in context.connections:
                messages.append(validate("/patch/connect", (src, dst)))
    along = _silent_without(module_id, context)
    for gone in (module_id, *along):
        messages.append(validate("/patch/remove", (gone,)))
    note = f"{', '.join(along)} went with it: parts of its sound only it fed" if along else ""
    return Mapped(intent, tuple(messages), note=note)


_SPACES = frozenset({"reverb", "delay"})
"""Effects that put a sound in a space: they come last in a chain."""


def _sound_end(head: str, kind: str, context: Context) -> str:
    """Where a `kind` added to a named sound goes: at the end of the chain it plays through
    (one module after another), the sound staying one instrument (`add a reverb to the 303`
    follows its filter), but before an echo or reverb there unless it is one itself
    (distortion into the lead's echo). Other modules: right after them."""
    if not sound_parts(head, context.modules):
        return head
    end = head
    while len(outs := context.outputs(end)) == 1 and outs[0] != MASTER:
        after = outs[0]
        if len(context.inputs(after)) != 1:
            break  # a module others play into too: not this sound's own
        if context.modules[after] in _SPACES and kind not in _SPACES:
            break
        end = after
    return end


def _silent_without(head: str, context: Context) -> list[str]:
    """The parts of the sound whose head is `head` that nothing outside the sound feeds."""
    parts = sound_parts(head, context.modules)
    group = [head]
    grown = True
    while grown:  # again until none joins: a part may be fed by one that joins later
        grown = False
        for part in parts:
            feeds = context.inputs(part)
            targets = [t for lfo, t, _ in context.modulations if lfo == part]
            if part not in group and all(m in group for m in feeds + targets):
                group.append(part)
                grown = True
    return group[1:]
