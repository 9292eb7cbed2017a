"""``python -m realtime_style`` is the ``rtstyle`` command."""

import sys

from realtime_style.cli import main

sys.exit(main())
