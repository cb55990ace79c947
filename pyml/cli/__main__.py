"""`python -m pyml.cli`: the `pyml` command."""

import sys

from . import main

sys.exit(main())
