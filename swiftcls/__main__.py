"""``python -m swiftcls`` (what ``torchrun -m swiftcls`` runs)."""

import sys

from .cli.main import main

sys.exit(main())
