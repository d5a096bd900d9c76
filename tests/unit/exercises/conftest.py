"""Test helpers next to these tests (``handkin``, ``synthetic_tapping``) import as plain modules.

With ``--import-mode=importlib`` pytest no longer puts test folders on ``sys.path``.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
