"""The client scenarios under systemd reuse tests/clients' harness (session tree, host guard,
image tarball, client wrappers). Loaded by path: every test directory's conftest is called
conftest."""
import importlib.util
import os
import sys

_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "clients")
sys.path.insert(0, os.path.abspath(_dir))
_spec = importlib.util.spec_from_file_location("skiff_clients_conftest", os.path.join(_dir, "conftest.py"))
_mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_mod)
globals().update({k: v for k, v in vars(_mod).items() if not k.startswith("__")})
