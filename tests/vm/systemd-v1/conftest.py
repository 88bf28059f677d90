"""The systemd tier reuses the integration harness (bundle, rt, leak checks) as is.

Loaded by path: every test directory's conftest is called conftest, so a plain import would
pick the wrong one.
"""
import importlib.util
import os

_path = os.path.join(os.path.dirname(__file__), "..", "..", "integration", "conftest.py")
_spec = importlib.util.spec_from_file_location("skiff_integration_conftest", _path)
_mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_mod)
globals().update({k: v for k, v in vars(_mod).items() if not k.startswith("__")})
