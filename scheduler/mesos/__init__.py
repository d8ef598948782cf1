"""The project's own Mesos v1 scheduler HTTP client (asyncio, aiohttp): framing, typed events, calls, driver."""
