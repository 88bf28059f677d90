"""The systemd tier reuses the integration harness (bundle, rt, leak checks) as is."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
from suite_loader import reexport  # noqa: E402

reexport("integration/conftest.py", "skiff_integration_conftest", globals())
