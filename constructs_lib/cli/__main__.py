"""``python -m constructs_lib.cli``: the ``fanout`` command."""

import sys

from .main import main

sys.exit(main())
