"""``python -m tengri``: the same command line as ``tengri``."""

import sys

from tengri.cli import main

sys.exit(main())
