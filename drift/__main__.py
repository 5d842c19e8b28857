"""``python -m drift``: the same as ``fraud-drift``."""

import sys

from drift.cli import main

sys.exit(main())
