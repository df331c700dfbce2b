"""Snapshots of learned state: signed, and loaded only through an allow-list.

The service keeps each partition's baselines in a Kafka changelog topic, so a
snapshot is bytes that anyone with write access to that topic could replace.
Two guards stand before any object is built from them:

* with a key (``service.state_key``) every snapshot carries an HMAC-SHA256 tag
  that is checked before a single byte is unpickled; unsigned or wrongly
  signed snapshots are refused;
* unpickling resolves only the classes of this package and River's, plus a
  few containers from the standard library.  ``builtins.getattr``,
  ``eval``, ``os.system`` and the like are never resolved, so a crafted
  snapshot cannot reach code beyond constructors of plain data classes.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import pickle
from typing import Any

from models.errors import ModelError

MAGIC = b"IDS1"
_SIGNED = b"S"
_UNSIGNED = b"U"
_TAG = 32

# Only modules that hold learned state; never one whose classes touch files or sockets.
_MODULES = frozenset({
    "models.baseline", "models.breadth", "models.pace", "models.stats", "models.mergeable",
    "models.peer_table", "detector.engine_state",
    "detector.scoring.observation", "detector.decisions", "detector.wire.events",
    "detector.wire.employees",
    "detector.wire.actions",
})
# Modules whose classes moved: snapshots written before name the old module.
_MOVED = {
    "detector.scoring": "detector.scoring.observation",
    "detector.events": "detector.wire.events",
    "detector.actions": "detector.wire.actions",
    "detector.directory": "detector.wire.employees",
    "detector.engine": "detector.engine_state",
}
_STDLIB = {
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("builtins", "bytearray"),
    ("collections", "deque"),
    ("collections", "OrderedDict"),
    ("datetime", "date"),
    ("datetime", "datetime"),
    ("datetime", "timedelta"),
    ("datetime", "timezone"),
    ("array", "array"),
    ("array", "_array_reconstructor"),
}


class SnapshotError(ModelError, ValueError):
    """A snapshot that is damaged, unsigned, signed with another key, or foreign."""


class _AllowListUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _STDLIB:
            return super().find_class(module, name)
        module = _MOVED.get(module, module)
        ours = module in _MODULES or module.startswith("river.stats")
        if ours and "." not in name:
            obj = super().find_class(module, name)
            if isinstance(obj, type):
                return obj
        if module == "river._river_rust.stats" and name.startswith("Rs"):
            obj = super().find_class(module, name)
            if isinstance(obj, type):
                return obj
        raise SnapshotError(f"snapshot refers to {module}.{name}, which a snapshot may not hold")


def dump(obj: Any, key: bytes | None = None) -> bytes:
    payload = pickle.dumps(obj, protocol=5)
    if key:
        tag = hmac.new(key, payload, hashlib.sha256).digest()
        return MAGIC + _SIGNED + tag + payload
    return MAGIC + _UNSIGNED + payload


def load(data: bytes, key: bytes | None = None) -> Any:
    if data[:4] != MAGIC:
        raise SnapshotError("not a snapshot (bad magic)")
    kind = data[4:5]
    if kind == _SIGNED:
        tag, payload = data[5 : 5 + _TAG], data[5 + _TAG :]
        if key:
            want = hmac.new(key, payload, hashlib.sha256).digest()
            if not hmac.compare_digest(tag, want):
                raise SnapshotError("snapshot signature does not match the state key")
    elif kind == _UNSIGNED:
        if key:
            raise SnapshotError("snapshot is unsigned but a state key is configured")
        payload = data[5:]
    else:
        raise SnapshotError("unknown snapshot kind")
    try:
        return _AllowListUnpickler(io.BytesIO(payload)).load()
    except SnapshotError:
        raise
    except Exception as exc:  # any damage inside the payload is the same refusal
        raise SnapshotError(f"damaged snapshot: {type(exc).__name__}") from None
