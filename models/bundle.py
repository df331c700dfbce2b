"""Baseline bundles: what an engine learned from history, as one versioned file.

This module is the file format and its checks; giving a bundle's baselines
to an engine, and capturing an engine's, is ``detector.bundles``.

Analysts fit baselines on past events and hand them to running detectors, so a
bundle travels between machines and people.  It is therefore built to be
checked before it is believed:

* layout: ``MAGIC`` (8 bytes), the header's length (4 bytes, big-endian), the
  header (canonical JSON: sorted keys, no spaces), then the payload;
* the header holds the format version, the metadata (when and from what the
  baselines were learned, with which settings), the payload's length, a
  SHA-256 checksum over the header's other fields and the payload, and an
  optional HMAC-SHA256 with the signing key (``service.state_key``);
* the payload is a :mod:`models.snapshot` of plain containers and baseline
  objects, unpickled only through that module's allow-list.

Loading checks the magic, the header, the length, the checksum and the
signature before a single payload byte is unpickled; a header that is not in
canonical form counts as modified, so that no byte of the file can change
without the bundle being refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import struct
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from models import snapshot
from models.baseline import Baselines, EmployeeBaseline, PeerBaseline
from models.errors import ModelError
from models.peer_table import EVERYONE, PeerTable

MAGIC = b"\x89IDBNDL\n"  # a high byte and a newline: damage by text-mode transfers shows at once
FORMAT = 1
PUBLISHED_NAME = "current.bundle"
DEFAULT_PUBLISH_DIR = Path("bundles")
VERSION_CHARS = 12
_LENGTH = struct.Struct(">I")
_MAX_HEADER = 16 << 20
_SEALED = ("format", "metadata", "payload_bytes")
_HEADER_KEYS = frozenset((*_SEALED, "sha256", "hmac_sha256"))


class BundleError(ModelError, ValueError):
    """A bundle that is damaged, truncated, modified, foreign, or signed with another key."""

    label = "baseline bundle: "


def _canonical(obj: Any) -> bytes:
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)


def iso_utc(ts: float | None) -> str | None:
    """Seconds since the epoch as ISO 8601 in UTC (``...Z``); None stays None."""
    if ts is None:
        return None
    text = datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def bundle_version(checksum: str) -> str:
    """A short id for a bundle, stable for its content (metrics, actions, logs)."""
    return checksum[:VERSION_CHARS]


_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "created_at": (str,),
    "first_event": (str, type(None)),
    "last_event": (str, type(None)),
    "events": (int,),
    "employees": (int,),
    "peer_groups": (int,),
    "partitions": (int,),
    "settings": (dict,),
    "evaluation": (dict, type(None)),
    "notes": (str,),
    "detector_version": (str,),
}


@dataclass(frozen=True, slots=True)
class Metadata:
    """What a bundle says about itself; readable without touching the payload."""

    created_at: str
    first_event: str | None
    last_event: str | None
    events: int
    employees: int
    peer_groups: int
    partitions: int
    settings: dict[str, Any]
    evaluation: dict[str, Any] | None
    notes: str
    detector_version: str

    def to_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in _FIELD_TYPES}

    @classmethod
    def from_dict(cls, raw: Any) -> Metadata:
        if not isinstance(raw, dict):
            raise BundleError("header: metadata is not an object")
        for name, kinds in _FIELD_TYPES.items():
            value = raw.get(name)
            if name not in raw or not isinstance(value, kinds) or isinstance(value, bool):
                raise BundleError(f"header: metadata.{name} is missing or of the wrong type")
        unknown = sorted(set(raw) - set(_FIELD_TYPES))
        if unknown:
            # A new field is a new format: the checksum covers fields this reader would drop.
            raise BundleError(f"header: metadata.{unknown[0]} is not part of format {FORMAT}")
        if raw["partitions"] < 1:
            raise BundleError("header: metadata.partitions must be at least 1")
        return cls(**raw)


@dataclass(frozen=True, slots=True)
class Bundle:
    """Metadata plus the payload bytes, with the checksum that binds them.

    The checksum is computed here rather than passed in, so a bundle can never
    carry one that does not match.  The state is unpickled afresh for each
    engine, so engines built from one bundle never share a baseline object.
    """

    metadata: Metadata
    payload: bytes = field(repr=False)
    signed: bool = False
    checksum: str = field(init=False)

    def __post_init__(self) -> None:
        sealed = _sealed(self.metadata, len(self.payload))
        object.__setattr__(self, "checksum", _digest(sealed, self.payload))

    @property
    def version(self) -> str:
        return bundle_version(self.checksum)

    def baselines(self) -> list[Baselines]:
        """Fresh objects for every partition, from the verified payload."""
        return _decode_state(self.payload, self.metadata.partitions)


def pack(
    parts: Sequence[Baselines],
    *,
    settings: Mapping[str, Any],
    detector_version: str,
    events: int,
    first_ts: float | None,
    last_ts: float | None,
    evaluation: Mapping[str, Any] | None = None,
    notes: str = "",
    created_at: float | None = None,
) -> Bundle:
    """A bundle of ``parts`` (one per partition), pickled at once, so the engines
    they came from may go on learning without changing it.  ``settings``: the
    settings record that shaped them (plain JSON)."""
    if not parts:
        raise ValueError("a bundle needs at least one engine")
    tables = {id(p.table): p.table for p in parts}
    if len(tables) != 1:
        raise ValueError("a bundle's engines share one peer table or none")
    table = parts[0].table
    state: dict[str, Any]
    if table is None:
        state = {"partitions": [
            {"employees": p.employees, "peers": p.peers, "glob": p.glob} for p in parts
        ]}
        groups = len({g for p in parts for g in p.peers})
    else:
        # Shared peers: the table once; engines' peer handles are rebuilt from it.
        state = {"partitions": [{"employees": p.employees} for p in parts],
                 "peer_table": table}
        groups = len({*table.groups, *(g for d in table.pending.values() for g in d)} - {EVERYONE})
    try:
        figures = None if evaluation is None else orjson.loads(_canonical(dict(evaluation)))
        _canonical(notes)
    except TypeError as exc:
        raise ValueError(f"metadata must be plain JSON: {exc}") from None
    metadata = Metadata(
        created_at=iso_utc(time.time() if created_at is None else created_at) or "",
        first_event=iso_utc(first_ts),
        last_event=iso_utc(last_ts),
        events=events,
        employees=sum(len(p.employees) for p in parts),
        peer_groups=groups,
        partitions=len(parts),
        settings=dict(settings),
        evaluation=figures,
        notes=notes,
        detector_version=detector_version,
    )
    # The header carries the signature, so the snapshot inside is left unsigned.
    payload = snapshot.dump(state)
    return Bundle(metadata, payload)


def _sealed(metadata: Metadata, payload_bytes: int) -> bytes:
    return _canonical({"format": FORMAT, "metadata": metadata.to_dict(),
                       "payload_bytes": payload_bytes})


def _digest(sealed: bytes, payload: bytes) -> str:
    h = hashlib.sha256(sealed)
    h.update(payload)
    return h.hexdigest()


def _tag(key: bytes, sealed: bytes, payload: bytes) -> str:
    h = hmac.new(key, sealed, hashlib.sha256)
    h.update(payload)
    return h.hexdigest()


def encode(bundle: Bundle, key: bytes | None = None) -> bytes:
    """The file's bytes; signed when a key is given."""
    sealed = _sealed(bundle.metadata, len(bundle.payload))
    header = {
        "format": FORMAT,
        "metadata": bundle.metadata.to_dict(),
        "payload_bytes": len(bundle.payload),
        "sha256": bundle.checksum,
        "hmac_sha256": _tag(key, sealed, bundle.payload) if key else None,
    }
    raw = _canonical(header)
    return MAGIC + _LENGTH.pack(len(raw)) + raw + bundle.payload


@dataclass(frozen=True, slots=True)
class BundleInfo:
    """What can be said about a bundle without unpickling anything."""

    metadata: Metadata
    checksum: str
    signed: bool
    signature_checked: bool
    size: int

    @property
    def version(self) -> str:
        return bundle_version(self.checksum)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "format": FORMAT,
            "sha256": self.checksum,
            "signed": self.signed,
            "signature_checked": self.signature_checked,
            "size_bytes": self.size,
            **self.metadata.to_dict(),
        }


def _verify(data: bytes, key: bytes | None, need_key: bool) -> tuple[BundleInfo, bytes]:
    """Every check that needs no unpickling, in file order."""
    n = len(MAGIC)
    head = data[:n]
    if head != MAGIC:
        if data and len(head) < n and MAGIC.startswith(head):
            raise BundleError(f"truncated: {len(data)} bytes, not even the magic")
        if data.startswith(snapshot.MAGIC):
            raise BundleError("this is a state snapshot, not a baseline bundle")
        raise BundleError("not a baseline bundle (unknown magic bytes)")
    if len(data) < n + _LENGTH.size:
        raise BundleError("truncated: the header length is cut off")
    (length,) = _LENGTH.unpack_from(data, n)
    start = n + _LENGTH.size
    if length > _MAX_HEADER:
        raise BundleError(f"damaged header: a length of {length} bytes is implausible")
    if len(data) < start + length:
        raise BundleError(f"truncated: the header needs {length} bytes, "
                          f"{len(data) - start} are left")
    raw = data[start : start + length]
    try:
        header = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BundleError("damaged header: not valid JSON") from None
    if not isinstance(header, dict):
        raise BundleError("damaged header: not a JSON object")
    fmt = header.get("format")
    if fmt != FORMAT or isinstance(fmt, bool):
        raise BundleError(f"bundle format {fmt!r} is not supported (this version reads {FORMAT})")
    if set(header) != _HEADER_KEYS:
        raise BundleError("damaged header: unexpected or missing fields")
    if _canonical(header) != raw:
        raise BundleError("header was modified (it is not in canonical form)")
    size, checksum, tag = header["payload_bytes"], header["sha256"], header["hmac_sha256"]
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise BundleError("damaged header: payload_bytes is not a length")
    if not isinstance(checksum, str) or not (tag is None or isinstance(tag, str)):
        raise BundleError("damaged header: checksum or signature is not text")
    payload = data[start + length :]
    if len(payload) < size:
        raise BundleError(f"truncated: the payload has {len(payload)} of {size} bytes")
    if len(payload) > size:
        raise BundleError(f"{len(payload) - size} unexpected bytes after the payload")
    sealed = _canonical({k: header[k] for k in _SEALED})
    digest = _digest(sealed, payload)
    if not hmac.compare_digest(digest.encode(), checksum.encode()):
        raise BundleError("checksum mismatch: the bundle was modified or damaged")
    checked = False
    if tag is None:
        if key:
            raise BundleError("bundle is unsigned but a signing key (service.state_key) is set")
    elif key:
        if not hmac.compare_digest(_tag(key, sealed, payload).encode(), tag.encode()):
            raise BundleError("signature does not match the signing key (service.state_key)")
        checked = True
    elif need_key:
        raise BundleError("bundle is signed: loading it needs the signing key "
                          "(service.state_key)")
    info = BundleInfo(Metadata.from_dict(header["metadata"]), digest, tag is not None, checked,
                      len(data))
    return info, payload


def _decode_state(payload: bytes, partitions: int) -> list[Baselines]:
    try:
        state = snapshot.load(payload)
    except snapshot.SnapshotError as exc:
        raise BundleError(f"payload refused: {exc}") from None
    parts = state.get("partitions") if isinstance(state, dict) else None
    if not isinstance(parts, list) or len(parts) != partitions:
        raise BundleError("payload does not hold the partitions its metadata names")
    table = state.get("peer_table")
    if table is not None and type(table) is not PeerTable:
        raise BundleError("payload holds something other than a peer table")
    origin = hashlib.sha256(payload).hexdigest()  # seeds a table once (PeerTable.seed)
    out = []
    for part in parts:
        if not isinstance(part, dict):
            raise BundleError("payload holds something other than baselines")
        employees = part.get("employees")
        if not (isinstance(employees, dict)
                and all(isinstance(k, str) and type(v) is EmployeeBaseline
                        for k, v in employees.items())):
            raise BundleError("payload holds something other than baselines")
        if table is not None:
            out.append(Baselines(employees, {}, PeerBaseline(), table, origin))
            continue
        peers, glob = part.get("peers"), part.get("glob")
        if not (
            isinstance(peers, dict)
            and all(isinstance(k, str) and type(v) is PeerBaseline for k, v in peers.items())
            and type(glob) is PeerBaseline
        ):
            raise BundleError("payload holds something other than baselines")
        out.append(Baselines(employees, peers, glob))
    return out


def decode(data: bytes, key: bytes | None = None) -> Bundle:
    """Verify ``data`` completely and return the bundle; raise :class:`BundleError` if not.

    With a key, only a bundle signed with that key is accepted; without one,
    only an unsigned bundle.  The payload is unpickled (through the snapshot
    allow-list) only after every other check has passed.
    """
    info, payload = _verify(data, key, need_key=True)
    _decode_state(payload, info.metadata.partitions)
    bundle = Bundle(info.metadata, payload, info.signed)
    if bundle.checksum != info.checksum:  # the metadata did not survive being read
        raise BundleError("header: metadata is not in the form this version writes")
    return bundle


def describe(data: bytes, key: bytes | None = None) -> BundleInfo:
    """The header of a bundle whose integrity holds, for showing it.

    Unlike :func:`decode`, a signed bundle is described even without the key
    (``signature_checked`` says so); nothing is unpickled.
    """
    return _verify(data, key, need_key=False)[0]


def read(path: str | Path) -> bytes:
    """A bundle file's bytes; the messages leave naming the file to the caller."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise BundleError("no such file") from None
    except OSError as exc:
        raise BundleError(f"cannot read: {exc.strerror}") from None


def load(path: str | Path, key: bytes | None = None) -> Bundle:
    return decode(read(path), key)


def save(bundle: Bundle, path: str | Path, key: bytes | None = None) -> Path:
    """Write the bundle so that readers see the old file or the new one, never half."""
    return write_atomic(path, encode(bundle, key))


def write_atomic(path: str | Path, data: bytes) -> Path:
    """Temporary file in the same directory, fsync, rename over, fsync the directory."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    # Created like any new file (mode 0666 less the umask), unlike mkstemp's 0600.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    try:
        dir_fd = os.open(target.parent, os.O_RDONLY)
    except OSError:  # some platforms cannot open a directory; the rename still happened
        return target
    try:
        with contextlib.suppress(OSError):
            os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return target


def publish(
    source: str | Path, directory: str | Path = DEFAULT_PUBLISH_DIR, key: bytes | None = None
) -> tuple[Path, Bundle]:
    """Make a verified bundle the one detectors load: ``<directory>/current.bundle``.

    The bytes written are the ones verified, so a file changed between the
    check and the copy cannot slip through.
    """
    data = read(source)
    bundle = decode(data, key)
    return write_atomic(Path(directory) / PUBLISHED_NAME, data), bundle
