"""`python -m pyml`: the `pyml` command."""

import sys

from .cli import main

sys.exit(main())
