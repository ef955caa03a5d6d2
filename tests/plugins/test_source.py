"""Plugin files become module classes named after the plugin, version by version."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from chronus.plugins.source import PluginSourceError, import_plugin, version_of

GAIN = """
import numpy as np
from chronus.dsp.module import Processor
from chronus.dsp.params import ParamSpec

class Gain(Processor):
    TYPE = "gain"
    PARAMS = (ParamSpec("amount", {amount}, 0.0, 2.0),)

    def __init__(self, sample_rate, max_block):
        super().__init__(sample_rate, max_block)
        self._init_params()

    def process_stereo(self, inp, out, n):
        out[:n] = inp[:n] * self.param("amount")
"""


def _write(tmp_path: Path, text: str, name: str = "gain.py") -> tuple[Path, str]:
    path = tmp_path / name
    path.write_text(text)
    return path, version_of(text.encode())


def test_a_plugin_class_takes_the_plugin_name_as_its_type(tmp_path: Path) -> None:
    path, version = _write(tmp_path, GAIN.format(amount=0.5))
    cls = import_plugin(path, "half", version)
    assert cls.TYPE == "half"
    module = cls(48000, 64)
    inp = np.ones((64, 2))
    out = np.zeros((64, 2))
    module.process_stereo(inp, out, 64)  # type: ignore[attr-defined]
    assert out[0, 0] == 0.5


def test_two_versions_of_one_plugin_live_side_by_side(tmp_path: Path) -> None:
    old_path, old = _write(tmp_path, GAIN.format(amount=0.5), "a.py")
    new_path, new = _write(tmp_path, GAIN.format(amount=1.5), "b.py")
    assert old != new
    a = import_plugin(old_path, "gain", old)(48000, 64)
    b = import_plugin(new_path, "gain", new)(48000, 64)
    assert (a.param("amount"), b.param("amount")) == (0.5, 1.5)


def test_a_file_without_exactly_one_module_class_is_refused(tmp_path: Path) -> None:
    path, version = _write(tmp_path, "X = 1\n")
    with pytest.raises(PluginSourceError, match="no Module subclass"):
        import_plugin(path, "x", version)
    two = GAIN.format(amount=1.0) + "\nclass Other(Gain):\n    pass\n"
    path, version = _write(tmp_path, two, "two.py")
    with pytest.raises(PluginSourceError, match="2 Module subclasses"):
        import_plugin(path, "two", version)
    path, version = _write(tmp_path, two + "\nMODULE = Other\n", "named.py")
    assert import_plugin(path, "named", version).__mro__[1].__name__ == "Other"


def test_a_failed_import_leaves_nothing_behind_and_a_bad_name_is_refused(
    tmp_path: Path,
) -> None:
    path, version = _write(tmp_path, "raise RuntimeError('at import')\n")
    with pytest.raises(RuntimeError, match="at import"):
        import_plugin(path, "boom", version)
    with pytest.raises(RuntimeError, match="at import"):
        import_plugin(path, "boom", version)  # imported again, not a half-made module
    with pytest.raises(PluginSourceError, match="not a plugin name"):
        import_plugin(path, "Bad Name", version)
