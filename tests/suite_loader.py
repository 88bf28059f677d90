"""Loads another suite's module by path, for tiers that reuse a harness as is.

Every test directory's conftest is called conftest, so a plain import would pick the wrong one;
loading by file under a name of its own keeps them apart."""
import importlib.util
import os
import sys

TESTS = os.path.dirname(os.path.abspath(__file__))


def load(relative_path, as_name, importable=False):
    """The module at tests/<relative_path>. importable: its directory goes on sys.path first,
    for a module that imports its neighbours (tests/clients' conftest imports podman_env)."""
    path = os.path.join(TESTS, relative_path)
    if importable and os.path.dirname(path) not in sys.path:
        sys.path.insert(0, os.path.dirname(path))
    spec = importlib.util.spec_from_file_location(as_name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def reexport(relative_path, as_name, namespace, importable=False):
    """Everything public of that module (fixtures, hooks) into a conftest's namespace."""
    module = load(relative_path, as_name, importable)
    namespace.update({k: v for k, v in vars(module).items() if not k.startswith("__")})
    return module
