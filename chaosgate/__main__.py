"""``python -m chaosgate``: the same as the ``chaosgate`` command."""

import sys

from chaosgate.cli import main

sys.exit(main())
