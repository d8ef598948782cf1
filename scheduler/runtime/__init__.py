"""The process's moving parts on the asyncio loop: the engine that owns the state, background calls."""
