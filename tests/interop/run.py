"""Runs the interop suite with pytest (from the test script's venv)."""
import os
import sys

import pytest

here = os.path.dirname(os.path.abspath(__file__))
sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", here]))
