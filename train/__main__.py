"""``python -m train``: the same as fraud-train."""

import sys

from train.cli import main

sys.exit(main())
