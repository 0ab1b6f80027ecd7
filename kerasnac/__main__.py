"""``python -m kerasnac``: the command line (see kerasnac.cli)."""

import sys

from .cli import main

sys.exit(main())
