"""`python -m kktunlearn ...` is the `kktunlearn` command."""

import sys

from .cli import main

sys.exit(main())
