"""Message handlers inside the scheduler process (``MESSAGE_HANDLER_MODE=in-process``, dev mode).

Each is the same consumer a ``scale-scheduler message-handler`` task runs, on its own thread; the
messaging service counts the live ones as its actual count, as it would count handler tasks.
"""

from __future__ import annotations

import asyncio
import logging

from scheduler.config import Settings
from scheduler.messaging.handler import MessageHandler
from scheduler.store.database import Database

log = logging.getLogger(__name__)


class InProcessHandlers:
    def __init__(self, settings: Settings, database: Database) -> None:
        self.settings = settings
        self.database = database
        self.handlers: list[MessageHandler] = []
        self._numbers = 0

    def resize(self, desired: int) -> None:
        self.handlers = [h for h in self.handlers if h.is_alive]
        while len(self.handlers) < desired:
            self._numbers += 1
            handler = MessageHandler(
                self.settings, engine=self.database.engine, name=f"message-handler-{self._numbers}"
            )
            handler.start()
            self.handlers.append(handler)
            log.info("Started in-process message handler %d of %d", len(self.handlers), desired)
        while len(self.handlers) > desired:
            self.handlers.pop().stop(timeout=0)  # asked to stop; it finishes its message first

    def alive_count(self) -> int:
        return sum(1 for handler in self.handlers if handler.is_alive)

    async def stop(self, timeout_s: float = 3.0) -> None:
        for handler in self.handlers:
            handler.stop(timeout=0)
        await asyncio.to_thread(lambda: [handler.stop(timeout=timeout_s) for handler in self.handlers])
        self.handlers = []
