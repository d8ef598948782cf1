"""The pure, synchronous core: events and time in, state changes and the calls to make out.

No asyncio, aiohttp, SQLAlchemy, kombu or hvac here (a test checks it): the runtime feeds the core
and carries out the ``Actions`` it returns.
"""
