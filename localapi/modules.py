"""Loading a function's handler module in this process, as Lambda would: its CodeUri first on
``sys.path`` (Lambda's ``/var/task``), so the modules beside ``app.py`` (the hits function's
``routers``) import. The tests, the OpenAPI generator and the in-process bench share it;
``make dev`` runs each function in its own process instead (``localapi/worker.py``)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType


def load_app(code_dir: Path, name: str) -> ModuleType:
    """``code_dir/app.py`` imported under ``name`` (unique per caller: each load is its own
    execution environment's module)."""
    folder = str(code_dir)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(name, code_dir / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
