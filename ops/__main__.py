"""Entry point of `python -m ops`."""

import sys

from ops import interrupt
from ops.cli import main

interrupt.install()
sys.exit(main())
