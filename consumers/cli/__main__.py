"""``python -m consumers.cli ...``: the same as ``insider-detector ...``."""

from __future__ import annotations

import sys

from consumers.cli.main import main

sys.exit(main())
