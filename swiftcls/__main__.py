"""``python -m swiftcls`` (what ``torchrun -m swiftcls`` runs)."""

import sys

from .cli import main

sys.exit(main())
