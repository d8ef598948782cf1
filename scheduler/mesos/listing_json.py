"""The master's large listings parsed, and freed, in a thread that lets the event loop run meanwhile.

``orjson.loads`` parses a document in one call that holds the interpreter (the GIL) from start to
end: in a thread it still stops the event loop for the whole parse, and dropping the document
stops it again while its objects are freed. A ``/master/slaves`` of 10,000 agents (7.2 MB) kept a
thread busy in Python waiting 60-74 ms on a quiet 2-core VM (110-143 ms on a busy one), once every
listing read, and ``/master/frameworks`` grows with every task the cluster runs. Here the listings'
big arrays (agents, frameworks, their tasks) are parsed one element at a time with the standard
library's decoder, and freed one element at a time, and after each millisecond of work the thread
lets the interpreter go for a millisecond: that busy thread's longest wait was 5.5 ms
(``python -m bench.listing_parse``, which measures both ways in the same run; the parse takes about
eight times as long, as background work).

What is accepted, and what it becomes, is what ``orjson`` accepts and makes of it: ``NaN``,
``Infinity`` and numbers too large for a float are refused, an integer beyond 64 bits becomes a
float; a document with an escaped UTF-16 surrogate (``\\ud800``) is left to orjson, which refuses a
lone one and pairs the others (the tests compare the two on valid and hostile documents).
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson

# For an object: the keys whose array is parsed element by element, each element with its own
# such map (None: parsed whole). Keys not named here, and elements that are not objects, are parsed whole.
Streamed = Mapping[str, "Streamed | None"]

_FRAMEWORK: Streamed = {"tasks": None, "completed_tasks": None, "unreachable_tasks": None, "executors": None}
# /master/slaves, /master/frameworks and /master/state.
MASTER_LISTINGS: Streamed = {
    "slaves": None,
    "recovered_slaves": None,
    "frameworks": _FRAMEWORK,
    "completed_frameworks": _FRAMEWORK,
    "unregistered_frameworks": None,
}
HOLD_S = 0.001  # work done between two chances for the event loop to take the interpreter
# ... and how long each chance lasts: a pause of no length let the busy loop's thread wait as long as
# before, the parser taking the interpreter back before the other thread woke up.
PAUSE_S = 0.001

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def _float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"the number {text[:40]} is too large")  # as orjson refuses it
    return value


def _int(text: str) -> int | float:
    # As orjson: an integer within 64 bits (signed or unsigned) as one, a larger one as a float.
    value = int(text) if len(text) <= 20 else None
    if value is not None and -(2**63) <= value < 2**64:
        return value
    return _float(text)


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_float, parse_int=_int)


class _Walk:
    def __init__(
        self, text: str, hold_s: float, pause_s: float, clock: Callable[[], float], pause: Callable[[float], None]
    ) -> None:
        self.text = text
        self.hold_s = hold_s
        self.pause_s = pause_s
        self.clock = clock
        self.pause = pause
        self.since = clock()

    def _skip(self, i: int) -> int:
        return _WHITESPACE.match(self.text, i).end()

    def _expect(self, i: int, char: str) -> int:
        if self.text[i : i + 1] != char:
            raise ValueError(f"expected {char!r} at character {i}")
        return self._skip(i + 1)

    def _whole(self, i: int) -> tuple[Any, int]:
        value, end = _DECODER.raw_decode(self.text, i)
        if self.clock() - self.since >= self.hold_s:
            self.pause(self.pause_s)  # the event loop's thread, if it waits for the interpreter, takes it now
            self.since = self.clock()
        return value, self._skip(end)

    def value(self, i: int, streamed: Streamed | None) -> tuple[Any, int]:
        if streamed is None or self.text[i : i + 1] != "{":
            return self._whole(i)
        result: dict[str, Any] = {}
        i = self._skip(i + 1)
        if self.text[i : i + 1] == "}":
            return result, self._skip(i + 1)
        while True:
            if self.text[i : i + 1] != '"':
                raise ValueError(f"expected a key at character {i}")
            key, i = self._whole(i)
            i = self._expect(i, ":")
            inner = streamed.get(key, ...)
            if inner is not ... and self.text[i : i + 1] == "[":
                result[key], i = self.array(i, inner)
            else:
                result[key], i = self._whole(i)
            if self.text[i : i + 1] == "}":
                return result, self._skip(i + 1)
            i = self._expect(i, ",")

    def array(self, i: int, streamed: Streamed | None) -> tuple[list[Any], int]:
        items: list[Any] = []
        i = self._skip(i + 1)
        if self.text[i : i + 1] == "]":
            return items, self._skip(i + 1)
        while True:
            item, i = self.value(i, streamed)
            items.append(item)
            if self.text[i : i + 1] == "]":
                return items, self._skip(i + 1)
            i = self._expect(i, ",")


def release_yielding(
    document: Any,
    streamed: Streamed = MASTER_LISTINGS,
    *,
    hold_s: float = HOLD_S,
    pause_s: float = PAUSE_S,
    clock: Callable[[], float] = time.perf_counter,
    pause: Callable[[float], None] = time.sleep,
) -> None:
    """Free a parsed listing's ``streamed`` arrays an element at a time, pausing as ``loads_yielding``
    does: dropped at once, hundreds of thousands of objects are freed in one go, the interpreter held
    throughout (about 17 ms for 10,000 agents). What a reader kept of an element stays alive."""
    since = clock()

    def empty(items: list[Any], inner: Streamed | None) -> None:
        nonlocal since
        while items:
            item = items.pop()
            if inner is not None and isinstance(item, dict):
                release(item, inner)
            del item
            if clock() - since >= hold_s:
                pause(pause_s)
                since = clock()

    def release(container: dict[str, Any], schema: Streamed) -> None:
        for key, inner in schema.items():
            items = container.get(key)
            if isinstance(items, list):
                empty(items, inner)

    if isinstance(document, dict):
        release(document, streamed)


def loads_yielding(
    body: bytes,
    streamed: Streamed = MASTER_LISTINGS,
    *,
    hold_s: float = HOLD_S,
    pause_s: float = PAUSE_S,
    clock: Callable[[], float] = time.perf_counter,
    pause: Callable[[float], None] = time.sleep,
) -> Any:
    """The JSON document in ``body``, its ``streamed`` arrays parsed an element at a time with a pause
    of ``pause_s`` after every ``hold_s`` of work; raises ``orjson.JSONDecodeError`` (as ``orjson.loads`` does)
    when it is not JSON."""
    try:
        text = body.decode("utf-8")
        if _SURROGATE_ESCAPE.search(text):
            return orjson.loads(body)
        walk = _Walk(text, hold_s, pause_s, clock, pause)
        document, end = walk.value(walk._skip(0), streamed)
        if end != len(text):
            raise ValueError(f"extra data at character {end}")
        return document
    except orjson.JSONDecodeError:
        raise
    except RecursionError:
        raise orjson.JSONDecodeError("the document is nested too deeply", "", 0) from None
    except ValueError as exc:  # the standard library's JSONDecodeError, UnicodeDecodeError, ours
        raise orjson.JSONDecodeError(str(exc)[:200], "", 0) from None
