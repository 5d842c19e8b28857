"""``python -m service``: same as ``fraud-serve``."""

import sys

from service.cli import main

sys.exit(main())
