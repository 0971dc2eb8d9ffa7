"""The message bus: one handler per command, in its own unit of work, retried on races."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from service.domain.commands import Command
from service.domain.errors import Conflict, Refused
from service.domain.events import Event
from service.unit_of_work import NeedsFullUnitOfWork, UnitOfWork

log = logging.getLogger(__name__)

CommandHandler = Callable[[Any, UnitOfWork], Awaitable[Any]]
EventHandler = Callable[[Any, UnitOfWork], Awaitable[None]]
UowFactory = Callable[[], UnitOfWork]

# PostgreSQL serialization failure and deadlock: safe to run the command again.
_RETRY_SQLSTATES = {"40001", "40P01"}


def is_transient(exc: BaseException) -> bool:
    """A race we lost (another transaction got there first); running again is safe."""
    if isinstance(exc, Refused):
        return False
    if isinstance(exc, Conflict | IntegrityError):
        return True
    if isinstance(exc, OperationalError) and "locked" in str(exc.orig):
        return True
    if isinstance(exc, DBAPIError):
        state = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        return state in _RETRY_SQLSTATES
    return False


class MessageBus:
    """Routes each command to its handler and each resulting event to its handlers."""

    def __init__(
        self,
        uow_factory: UowFactory,
        command_handlers: Mapping[type[Command], CommandHandler],
        event_handlers: Mapping[type[Event], Sequence[EventHandler]] | None = None,
        *,
        attempts: int = 6,
        lean: Mapping[type[Command], UowFactory] | None = None,
    ) -> None:
        """`lean` names commands that run first on a lean unit of work (the
        driver's); one that needs more is run again on `uow_factory`'s."""
        self.uow_factory = uow_factory
        self.command_handlers = dict(command_handlers)
        self.event_handlers = dict(event_handlers or {})
        self.attempts = attempts
        self.lean = dict(lean or {})

    async def handle(self, command: Command) -> Any:
        """Run the command's handler and return its result."""
        handler = self.command_handlers.get(type(command))
        if handler is None:
            raise LookupError(f"no handler for {type(command).__name__}")
        result, events = await self._run(handler, command)
        await self._publish(events)
        return result

    async def _run(
        self, handler: CommandHandler | EventHandler, message: Any
    ) -> tuple[Any, list[Event]]:
        factory = self.lean.get(type(message), self.uow_factory)
        attempt = 0
        while attempt < self.attempts:
            attempt += 1
            uow = factory()
            try:
                result = await handler(message, uow)
            except NeedsFullUnitOfWork:
                if factory is self.uow_factory:
                    raise
                # Rolled back whole; not a lost race, so it costs no attempt.
                factory, attempt = self.uow_factory, attempt - 1
                continue
            except Exception as exc:
                if attempt == self.attempts or not is_transient(exc):
                    raise
                log.debug(
                    "retrying %s after %s", type(message).__name__, type(exc).__name__
                )
                await asyncio.sleep(random.uniform(0, 0.005 * 2**attempt))
                continue
            return result, uow.collect_new_events()
        raise AssertionError("unreachable")

    async def _publish(self, events: list[Event]) -> None:
        queue = list(events)
        while queue:
            event = queue.pop(0)
            for handler in self.event_handlers.get(type(event), ()):
                try:
                    _, more = await self._run(handler, event)
                    queue.extend(more)
                except Exception:
                    # An event handler's failure must not undo the committed command.
                    log.exception("event handler failed for %s", type(event).__name__)
