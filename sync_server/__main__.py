"""``python -m sync_server`` is the same as ``smart-support-server``."""

import sys

from sync_server.cli import main

sys.exit(main())
