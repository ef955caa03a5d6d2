"""`python -m chronus` runs the `chronus` command."""

from __future__ import annotations

import sys

from chronus.cli import main

if __name__ == "__main__":
    sys.exit(main())
