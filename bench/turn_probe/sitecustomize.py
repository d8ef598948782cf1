"""The event loop's slow turns and the collector's census, for ``python -m bench.scale --turn-probe``
and ``--gc-census`` (never loaded otherwise).

bench.scale puts this directory first on the scheduler's ``PYTHONPATH`` and names a file prefix in
``BENCH_TURN_PROBE``; Python imports ``sitecustomize`` at start-up. Every turn of the loop whose
callbacks took more than ``BENCH_TURN_PROBE_MS`` (40 by default) is written as one JSON line: when,
how long its callbacks took in all, how many ran, how much of it the garbage collector took on the
loop's thread, and the six longest callbacks (a task by its coroutine's name, and its own name if it was given one). The loop-lag metric
says how late timers were; this says which work made them late.

It replaces two methods of asyncio's pure-Python classes (``Handle._run``, ``BaseEventLoop._run_once``):
a diagnostic of the bench, costing a clock read per callback. The census (``BENCH_GC_CENSUS``, below)
is independent of it.
"""

import os

if os.environ.get("BENCH_TURN_PROBE"):
    import asyncio.base_events
    import asyncio.events
    import gc
    import json
    import threading
    import time

    _out = open(f"{os.environ['BENCH_TURN_PROBE']}.{os.getpid()}.jsonl", "a")  # noqa: SIM115 (the process' life)
    _threshold_s = float(os.environ.get("BENCH_TURN_PROBE_MS", "40")) / 1000
    _main = threading.main_thread()
    _callbacks: list = []  # (seconds, seconds of them in the collector, handle) of the current turn
    _collector = [0.0, 0.0]  # seconds in the collector on the main thread so far; when the running one began

    def _on_collection(phase, _info):
        if threading.current_thread() is _main:
            if phase == "start":
                _collector[1] = time.perf_counter()
            else:
                _collector[0] += time.perf_counter() - _collector[1]

    def _name(handle) -> str:
        callback = handle._callback
        owner = getattr(callback, "__self__", None)
        if owner is not None and hasattr(owner, "get_coro"):
            name = "task " + getattr(owner.get_coro(), "__qualname__", "?")
            given = owner.get_name()
            return name if given.startswith("Task-") else f"{name} ({given})"
        return getattr(callback, "__qualname__", type(callback).__name__)[:80]

    _run = asyncio.events.Handle._run
    _run_once = asyncio.base_events.BaseEventLoop._run_once

    def _timed_run(self):
        began, collected = time.perf_counter(), _collector[0]
        try:
            return _run(self)
        finally:
            _callbacks.append((time.perf_counter() - began, _collector[0] - collected, self))

    def _timed_run_once(self):
        _callbacks.clear()
        _run_once(self)
        total = sum(c[0] for c in _callbacks)
        if total > _threshold_s:
            longest = sorted(_callbacks, key=lambda c: -c[0])[:6]
            line = {
                "t": time.time(),
                "ms": round(total * 1000, 1),
                "callbacks": len(_callbacks),
                "gc_ms": round(sum(c[1] for c in _callbacks) * 1000, 1),
                "longest": [[round(s * 1000, 1), round(g * 1000, 1), _name(h)] for s, g, h in longest],
            }
            _out.write(json.dumps(line) + "\n")
            _out.flush()

    gc.callbacks.append(_on_collection)
    asyncio.events.Handle._run = _timed_run
    asyncio.base_events.BaseEventLoop._run_once = _timed_run_once

if os.environ.get("BENCH_GC_CENSUS"):
    # ``python -m bench.scale --gc-census``: what the collector's middle generation holds when it is
    # collected, by type, every ``BENCH_GC_CENSUS_EVERY``th middle collection (3 by default). Its
    # walk of the generation costs the loop as much as the collection, so the run's figures are not
    # comparable with others; it says what to keep out of the collector's sight.
    import collections
    import gc
    import json
    import time

    _census_file = open(f"{os.environ['BENCH_GC_CENSUS']}.{os.getpid()}.jsonl", "a")  # noqa: SIM115 (the process' life)
    _census_every = max(1, int(os.environ.get("BENCH_GC_CENSUS_EVERY", "3")))
    _census_state = {"middle": 0, "busy": False}

    def _census(phase, info):
        if phase != "start" or info.get("generation") != 1 or _census_state["busy"]:
            return
        _census_state["middle"] += 1
        if _census_state["middle"] % _census_every:
            return
        _census_state["busy"] = True
        try:
            objects = gc.get_objects(1)
            kinds = collections.Counter(f"{type(o).__module__}.{type(o).__qualname__}" for o in objects)
            line = {"t": time.time(), "objects": len(objects), "types": kinds.most_common(25)}
            del objects
            _census_file.write(json.dumps(line) + "\n")
            _census_file.flush()
        finally:
            _census_state["busy"] = False

    gc.callbacks.insert(0, _census)  # before the turn probe's: its walk is not the collection's time
