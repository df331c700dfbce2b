"""JSON text to a document: orjson first, the standard library where orjson refuses
valid JSON (numbers beyond a double), and one error type for everything else.

Every document that crosses a boundary (events, directory records, commands,
audit lines) is decoded here, so that limits on size and depth and the
wording of problems are the same for all of them.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

import orjson

from detector.errors import InvalidRecord

MAX_DEPTH = 32


def _big_float(text: str) -> float | Decimal:
    value = float(text)
    if math.isfinite(value):
        return value
    try:
        return Decimal(text)
    except ArithmeticError:  # an exponent beyond even Decimal's range
        return Decimal("Infinity")


def _big_int(text: str) -> int | Decimal:
    # int() refuses more than 4300 digits; Decimal has no such limit.
    return int(text) if len(text) <= 4000 else Decimal(text)


def _no_constant(text: str) -> Any:
    raise ValueError("NaN and Infinity are not JSON")


def _tree_problem(root: Any, strings: bool) -> InvalidRecord | None:
    """Depth, key types and (for the stdlib fallback) lone surrogates of a whole tree.

    Only used when the document did not come straight from orjson, whose
    output already has string keys, valid strings and bounded depth.
    """
    stack: list[tuple[Any, int]] = [(root, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        node, depth = pop()
        if depth > MAX_DEPTH:
            return InvalidRecord("$", f"is nested deeper than {MAX_DEPTH} levels", "too_deep")
        if isinstance(node, dict):
            for k, v in node.items():
                if not isinstance(k, str):
                    return InvalidRecord("$", "property names must be strings", "wrong_type")
                if strings and not _utf8_ok(k):
                    return InvalidRecord("$", "contains an unpaired surrogate escape", "not_json")
                if isinstance(v, (dict, list)):
                    push((v, depth + 1))
                elif strings and isinstance(v, str) and not _utf8_ok(v):
                    return InvalidRecord("$", "contains an unpaired surrogate escape", "not_json")
        else:
            for v in node:
                if isinstance(v, (dict, list)):
                    push((v, depth + 1))
                elif strings and isinstance(v, str) and not _utf8_ok(v):
                    return InvalidRecord("$", "contains an unpaired surrogate escape", "not_json")
    return None


def _utf8_ok(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _stdlib_loads(raw: bytes | str) -> Any:
    """Numbers beyond a double (1e400, 400-digit integers) are valid JSON that orjson refuses."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        doc = json.loads(
            text, parse_float=_big_float, parse_int=_big_int, parse_constant=_no_constant
        )
    except RecursionError:
        raise InvalidRecord("$", f"is nested deeper than {MAX_DEPTH} levels", "too_deep") from None
    except (ValueError, TypeError, UnicodeError, OverflowError, MemoryError):
        raise InvalidRecord("$", "is not valid JSON", "not_json") from None
    if isinstance(doc, dict):
        problem = _tree_problem(doc, True)
        if problem is not None:
            raise problem
    return doc


def _decode_error(raw: bytes | str, exc: orjson.JSONDecodeError) -> Any:
    message = str(exc)
    if "infinity" in message:
        return _stdlib_loads(raw)
    if "depth" in message:
        raise InvalidRecord("$", f"is nested deeper than {MAX_DEPTH} levels", "too_deep") from None
    if "UTF-8" in message or "surrogate" in message:
        raise InvalidRecord("$", "is not valid UTF-8 JSON text", "not_json") from None
    where = f" (line {exc.lineno}, column {exc.colno})" if exc.lineno else ""
    raise InvalidRecord("$", f"is not valid JSON{where}", "not_json") from None


def load_object(
    raw: bytes | bytearray | memoryview | str | dict[str, Any],
    max_bytes: int = 65536,
    *,
    check_depth: bool = False,
) -> dict[str, Any]:
    """Parse one JSON document and insist that it is an object.

    A dict is accepted as already parsed, but checked for what JSON text could
    not contain (non-string keys, cycles, depth).  Parsed text is only checked
    for depth when ``check_depth`` is set: :func:`parse_event` finds depth more
    cheaply itself.  Raises only InvalidRecord.
    """
    if isinstance(raw, dict):
        problem = _tree_problem(raw, False)
        if problem is not None:
            raise problem
        return raw
    if isinstance(raw, (bytearray, memoryview)):
        try:
            raw = bytes(raw)
        except (TypeError, ValueError, BufferError):
            raise InvalidRecord("$", "must be JSON text or an object", "not_json") from None
    if isinstance(raw, str):
        size = len(raw)
        if max_bytes < size * 4 and size <= max_bytes:
            size = len(raw.encode("utf-8", "surrogatepass"))
    elif isinstance(raw, bytes):
        size = len(raw)
    else:
        raise InvalidRecord("$", "must be JSON text or an object", "not_json")
    if size > max_bytes:
        raise InvalidRecord("$", f"is larger than {max_bytes} bytes", "too_large")
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        doc = _decode_error(raw, exc)
    if not isinstance(doc, dict):
        raise InvalidRecord("$", "must be a JSON object", "not_object")
    if check_depth and _deeper_than(doc, MAX_DEPTH):
        raise InvalidRecord("$", f"is nested deeper than {MAX_DEPTH} levels", "too_deep")
    return doc


def _deeper_than(root: Any, limit: int) -> bool:
    """Whether ``root`` (a container) nests more than ``limit`` levels, itself included."""
    stack: list[tuple[Any, int]] = [(root, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        node, depth = pop()
        if depth > limit:
            return True
        for v in node.values() if isinstance(node, dict) else node:
            if isinstance(v, (dict, list)):
                push((v, depth + 1))
    return False
