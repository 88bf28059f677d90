"""The client scenarios under systemd reuse tests/clients' harness (session tree, host guard,
image tarball, client wrappers)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
from suite_loader import reexport  # noqa: E402

reexport("clients/conftest.py", "skiff_clients_conftest", globals(), importable=True)
