"""Operator review queues: close a dispute without a correction, file an unparsed SMS."""

from __future__ import annotations

from service.clock import Clock
from service.domain.commands import CloseDispute, MarkMessageReviewed
from service.domain.errors import Conflict, NotFound
from service.persistence.tables import disputes, inbound_messages
from service.unit_of_work import UnitOfWork


async def close_dispute(cmd: CloseDispute, uow: UnitOfWork, *, clock: Clock) -> None:
    """The weighing stands: the dispute leaves the queue with the operator's note."""
    async with uow:
        result = await uow.conn.execute(
            disputes.update()
            .where(disputes.c.id == cmd.dispute_id, disputes.c.status == "open")
            .values(
                status="resolved",
                resolution=f"closed by {cmd.operator}: {cmd.note}"[:400],
                resolved_at=clock.now(),
            )
        )
        if result.rowcount != 1:
            found = (
                await uow.conn.execute(
                    disputes.select().where(disputes.c.id == cmd.dispute_id)
                )
            ).first()
            if found is None:
                raise NotFound(f"no dispute {cmd.dispute_id}")
            raise Conflict(f"dispute {cmd.dispute_id} is already resolved")
        await uow.commit()


async def mark_message_reviewed(cmd: MarkMessageReviewed, uow: UnitOfWork) -> None:
    """An operator has read an unparsed message; it leaves the review queue."""
    async with uow:
        result = await uow.conn.execute(
            inbound_messages.update()
            .where(inbound_messages.c.id == cmd.message_id)
            .values(reviewed=True)
        )
        if result.rowcount != 1:
            raise NotFound(f"no message {cmd.message_id}")
        await uow.commit()
