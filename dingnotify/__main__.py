"""``python -m dingnotify``: the ``dingnotify`` command."""

import sys

from .cli import main

sys.exit(main())
