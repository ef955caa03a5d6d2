"""A benchmark's figures as one JSON object, for `benchmarks/run.py` to read without prose.

Each benchmark keeps its printout; with `--json` that printout goes to stderr and stdout gets
one line, the JSON object of the figures the benchmark filled in:

    with figures_out(args.json) as figures:
        ...  # print as always
        figures["underruns"] = underruns
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator
from typing import Any

JSON_HELP = "print the figures as one JSON object on stdout (the prose goes to stderr)"


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    """The `--json` flag every benchmark has."""
    parser.add_argument("--json", action="store_true", help=JSON_HELP)


@contextlib.contextmanager
def figures_out(as_json: bool) -> Iterator[dict[str, Any]]:
    """A dict to put the figures in; with `as_json`, printed as JSON on stdout at the end
    (and only if the block ends without an exception), everything else printed to stderr."""
    figures: dict[str, Any] = {}
    if not as_json:
        yield figures
        return
    with contextlib.redirect_stdout(sys.stderr):
        yield figures
    print(json.dumps(figures), flush=True)
