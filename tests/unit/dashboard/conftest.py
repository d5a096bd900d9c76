"""Make ``dashboard_fakes`` (beside these tests) and ``dashboard``/``app.py`` (at the repository root) importable.

With ``--import-mode=importlib`` pytest puts neither folder on ``sys.path``, and ``dashboard/`` is not
one of the installed packages.
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
for folder in (HERE, HERE.parents[2]):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
