"""Generate the student notebooks in notebooks/ from solutions/ (see course_tools/release.py).

    python scripts/release.py            # (re)write notebooks/NN_slug.ipynb
    python scripts/release.py --check    # exit 1 if notebooks/ is out of date
"""

import sys

from course_tools.release import main

if __name__ == "__main__":
    sys.exit(main())
