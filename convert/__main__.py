"""``python -m convert`` is ``fraud-convert``."""

import sys

from convert.cli import main

sys.exit(main())
