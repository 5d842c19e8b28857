"""``python -m batch``: the same as ``fraud-score``."""

import sys

from batch.cli import main

sys.exit(main())
