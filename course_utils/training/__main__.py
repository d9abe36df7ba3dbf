"""``python -m course_utils.training ...``: the training command line (see :mod:`.cli`)."""

import sys

from .cli import main

sys.exit(main())
