"""``python -m vitam_sandbox``: the same as ``versement vitam-sandbox``."""

import sys

from vitam_sandbox.cli import main

sys.exit(main())
