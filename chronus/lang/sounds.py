"""Named sounds: `add a 303`, `add an acid bass called b`, `give me a pad called keys`.

Each sound is a small recipe, kept here as data: its modules in signal order (the head
first: the one that plays notes), the parameter values an engineer would start from, and,
for a sound that moves by itself, an lfo on one of its parameters. The mapper
(`chronus.lang.patching.add_sound`) turns a recipe into the OSC that builds it.

Names: the head takes the name given (`add a 303 called acid` → `acid`), else the sound's
own id (`tb303`, `pad`; a second one `tb303_2`, `pad2`). Every other part is the head's name
and the part's role: `acid_f` its filter, `acid_drive` its distortion, `acid_verb` its
reverb, `acid_echo` its delay, `acid_lfo` its lfo. The focus goes to the head, so `darker`,
`play c2` and patterns reach the sound as they reach a plain synth.

A clap is a snare's noise without its body (a highpass cuts the body's two sines), in a small
room: the engine has no clap voice of its own.

>>> find_sound(("acid", "bass"))
('acid bass', 2)
>>> find_sound(("pad", "keys")), find_sound(("saw", "bass"))
(('pad', 1), None)
>>> [part.id_for("acid") for part in SOUNDS["303"].parts]
['acid', 'acid_f']
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ROLES",
    "SOUNDS",
    "Lfo",
    "Part",
    "Sound",
    "find_sound",
    "made_by",
    "played_as",
    "sound_parts",
    "sound_words",
]

ROLES: dict[str, str] = {
    "lowpass": "f",
    "highpass": "f",
    "bandpass": "f",
    "acid": "f",
    "distortion": "drive",
    "reverb": "verb",
    "delay": "echo",
    "lfo": "lfo",
}
"""Module type → the suffix its id takes in a sound (`acid_f`); the head takes none."""

Values = tuple[tuple[str, float], ...]


def _values(**values: float) -> Values:
    return tuple(values.items())


@dataclass(frozen=True, slots=True)
class Part:
    """One module of a sound: its type and the values it starts with (native units)."""

    type: str
    values: Values = ()
    head: bool = False

    def id_for(self, head: str) -> str:
        """This part's module id in a sound whose head is called `head`."""
        return head if self.head else f"{head}_{ROLES[self.type]}"


@dataclass(frozen=True, slots=True)
class Lfo:
    """An lfo the sound carries: patched to `param` of its part of type `target`."""

    target: str
    param: str
    values: Values = ()

    def id_for(self, head: str) -> str:
        """The lfo's module id in a sound whose head is called `head`."""
        return f"{head}_{ROLES['lfo']}"


@dataclass(frozen=True, slots=True)
class Sound:
    """A named sound: what `help sounds` shows and what `add a <name>` builds."""

    name: str
    """The words that call it, as typed after "a": "303", "acid bass"."""
    id: str
    """The head's id when the line gives no name."""
    about: str
    parts: tuple[Part, ...]
    """In signal order; the first is the head."""
    lfo: Lfo | None = None
    aliases: tuple[str, ...] = ()
    role: str = ""
    """What a player calls it in a patch ("bass"): `the bass` is the one sound made with
    that role, when the patch has no module of that name."""

    @property
    def spoken(self) -> str:
        """The name with its article: "a 303", "an 808", "an acid bass"."""
        return f"{'an' if self.name[0] in 'aeiou8' else 'a'} {self.name}"

    def head_id(self, n: int) -> str:
        """The head's id in the `n`-th of this sound made without a name: `tb303`, `tb303_2`,
        `pad`, `pad2`."""
        if n == 1:
            return self.id
        return f"{self.id}{'_' if self.id[-1].isdigit() else ''}{n}"

    @property
    def head(self) -> Part:
        """The part that plays the notes."""
        return self.parts[0]

    def members(self, head: str) -> tuple[tuple[str, str], ...]:
        """(id, type) of every module the sound makes when its head is called `head`, in
        signal order, its lfo last."""
        out = [(part.id_for(head), part.type) for part in self.parts]
        if self.lfo is not None:
            out.append((self.lfo.id_for(head), "lfo"))
        return tuple(out)

    def modulation(self, head: str) -> tuple[str, str, str] | None:
        """(lfo, module, parameter) of the sound's lfo when its head is called `head`."""
        if self.lfo is None:
            return None
        target = next(p.id_for(head) for p in self.parts if p.type == self.lfo.target)
        return self.lfo.id_for(head), target, self.lfo.param


def _head(kind: str, **values: float) -> Part:
    return Part(kind, _values(**values), head=True)


def _part(kind: str, **values: float) -> Part:
    return Part(kind, _values(**values))


_RECIPES: tuple[Sound, ...] = (
    Sound(
        "303", "tb303", "a saw into the acid ladder: squelchy, with accents",
        (
            _head("saw", cutoff=6000.0, res=0.0, attack=0.003, decay=0.3, sustain=0.6,
                  release=0.08),
            _part("acid", cutoff=320.0, res=0.78, env_amount=0.65, env_decay=0.28, accent=0.6,
                  drive=0.35),
        ),
        aliases=("tb303",),
        role="bass",
    ),
    Sound(
        "acid bass", "acid_bass", "a square into the acid ladder, driven hard: thicker than a 303",
        (
            _head("square", cutoff=5000.0, res=0.0, attack=0.003, decay=0.25, release=0.1,
                  volume=-8.0),
            _part("acid", cutoff=380.0, res=0.72, env_amount=0.8, env_decay=0.4, drive=0.6),
            _part("distortion", drive=18.0, tone=4500.0, mix=0.5, volume=-15.0),
        ),
        role="bass",
    ),
    Sound(
        "sub bass", "sub_bass", "a sine, a little drive so small speakers hear it",
        (
            _head("sine", cutoff=1200.0, res=0.0, attack=0.004, sustain=0.9, release=0.12,
                  drive=0.5, volume=-5.0),
        ),
        aliases=("sub",),
        role="bass",
    ),
    Sound(
        "supersaw", "supersaw", "two saws detuned wide, open and bright: for chords and leads",
        (
            _head("saw", detune=35.0, cutoff=6500.0, res=0.1, attack=0.01, decay=0.6,
                  sustain=0.75, release=0.5, voices=16.0, volume=-7.0),
        ),
        aliases=("super saw",),
    ),
    Sound(
        "lead", "lead", "a square, a little filter bite and a quiet 8th echo: for melodies",
        (
            _head("square", cutoff=3500.0, res=0.25, attack=0.002, decay=0.4, sustain=0.8,
                  release=0.2, env_amount=1.5, volume=-9.0),
            _part("delay", sync=0.5, feedback=0.25, damp=0.5, mix=0.15),
        ),
        role="lead",
    ),
    Sound(
        "pad", "pad", "slow detuned saws, filtered soft, in a big reverb",
        (
            _head("saw", detune=18.0, cutoff=1400.0, res=0.15, attack=0.9, decay=1.5,
                  sustain=0.8, release=2.5, voices=16.0, volume=-9.0),
            _part("reverb", room=0.85, damp=0.6, mix=0.4),
        ),
    ),
    Sound(
        "pluck", "pluck", "a saw whose filter snaps shut, with a dotted-8th echo",
        (
            _head("saw", cutoff=500.0, res=0.3, env_amount=7.0, env_decay=0.14, attack=0.001,
                  decay=0.35, sustain=0.0, release=0.2, volume=-3.0),
            _part("delay", sync=0.75, feedback=0.35, damp=0.5, mix=0.25),
        ),
    ),
    Sound(
        "wobble bass", "wobble_bass", "a saw into a resonant lowpass an lfo sweeps in 8ths",
        (
            _head("saw", detune=12.0, cutoff=8000.0, res=0.0, sustain=0.9, release=0.1,
                  drive=1.0, volume=-5.0),
            _part("lowpass", cutoff=500.0, res=0.55),
        ),
        lfo=Lfo("lowpass", "cutoff", _values(sync=0.5, depth=0.4)),
        aliases=("wobble",),
        role="bass",
    ),
    Sound(
        "808", "tr808", "a long, low kick that doubles as a bass",
        (_head("kick", tune=-2.0, decay=1.3, tone=0.25, amp=0.9),),
        aliases=("tr808", "808 bass"),
    ),
    Sound(
        "clap", "clap", "a snare's noise without its body (a highpass), in a small room",
        (
            _head("snare", decay=0.18, tone=0.1, amp=1.0, volume=6.0),
            _part("highpass", cutoff=700.0, res=0.1),
            _part("reverb", room=0.35, damp=0.4),
        ),
        aliases=("handclap",),
    ),
)  # fmt: skip

SOUNDS: dict[str, Sound] = {sound.name: sound for sound in _RECIPES}
"""Sound name → recipe, in the order `help sounds` lists them."""

_BY_WORDS: dict[str, str] = {
    word: sound.name for sound in _RECIPES for word in (sound.name, *sound.aliases)
}


def find_sound(words: tuple[str, ...]) -> tuple[str, int] | None:
    """The sound the first words name (two-word names first) and how many words it took."""
    if len(words) > 1 and f"{words[0]} {words[1]}" in _BY_WORDS:
        return _BY_WORDS[f"{words[0]} {words[1]}"], 2
    if words and words[0] in _BY_WORDS:
        return _BY_WORDS[words[0]], 1
    return None


def played_as(role: str, modules: dict[str, str]) -> list[str]:
    """The heads in `modules` (id → type) of the sounds made with `role` ("bass": a 303, an
    acid, sub or wobble bass).

    >>> played_as("bass", {"tb303": "saw", "tb303_f": "acid", "pad": "saw", "pad_verb": "reverb"})
    ['tb303']
    """
    return [
        head for sound in _RECIPES if sound.role == role for head in made_by(sound.name, modules)
    ]


def made_by(sound: str, modules: dict[str, str]) -> list[str]:
    """The heads in `modules` (id → type) that `add <sound>` made: without a name, its id or
    its id numbered (`tr808`, `tr808_2`; `pad`, `pad2`); failing those, with a name, a head
    whose every part is there by its role's name (`keys` of type saw beside `keys_verb` a
    reverb is the pad called keys). A one-part sound is not found by its parts: any module
    of its type would be it."""
    recipe = SOUNDS[sound]
    prefix = recipe.head_id(2)[:-1]
    unnamed = [
        module_id
        for module_id, kind in modules.items()
        if kind == recipe.head.type
        and (module_id == recipe.id or module_id.removeprefix(prefix).isdigit())
    ]
    if unnamed or len(recipe.parts) < 2:
        return unnamed
    return [
        module_id
        for module_id, kind in modules.items()
        if kind == recipe.head.type
        and all(modules.get(part) == part_kind for part, part_kind in recipe.members(module_id)
                if part_kind != "lfo")
    ]  # fmt: skip


def sound_parts(head: str, modules: dict[str, str]) -> list[str]:
    """The modules in `modules` (id → type) besides `head` that `add <sound>` made with it,
    in signal order, its lfo last (none if `head` heads no sound)."""
    for sound in _RECIPES:
        if head in made_by(sound.name, modules):
            return [part for part, kind in sound.members(head)[1:] if modules.get(part) == kind]
    return []


def sound_words() -> tuple[str, ...]:
    """Every single word that names a sound or starts a sound's name (for completion)."""
    return tuple(sorted({word.split()[0] for word in _BY_WORDS}))
