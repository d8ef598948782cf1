"""The pure, synchronous core: inputs and time in, state changes and the actions to carry out out.

``state.CoreState`` holds everything; ``apply.apply(state, input, now)`` is the one way in (the
master's events of ``events``, the engine's ``inputs``); ``cycle`` plans a scheduling cycle,
``clock`` advances time, ``task_updates`` follows our tasks. No asyncio, aiohttp, SQLAlchemy,
kombu, hvac, wall clock or ``scheduler.mesos`` here (tests/core/test_fence.py checks it).
"""
