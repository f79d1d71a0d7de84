"""One import's work, as the worker hands it to a parse: the object, where it goes, and the
bounds (``hitcounter.logic.imports`` for access logs, ``hitcounter.logic.counter_imports`` for
other counters' exports)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hitcounter.core.settings import ImportLimits
from hitcounter.data.import_store import ImportStore
from hitcounter.data.objects import ObjectInfo, ObjectStore


@dataclass(frozen=True)
class ImportWork:
    objects: ObjectStore
    ledger: ImportStore
    scratch_root: Path
    limits: ImportLimits
    info: ObjectInfo
    ident: str
    remaining_ms: Callable[[], int]
