"""``python -m codecustom``."""

import sys

from codecustom.cli import main

sys.exit(main())
