"""Process-memory storage as one piece, shaped like the PostgreSQL one."""

from adapters.memory.unit_of_work import InMemoryStore, InMemoryUnitOfWork
from application.ports import PoolStatus


class AlwaysReady:
    async def problems(self) -> list[str]:
        return []


class InMemoryStorage:
    """Nothing to open, migrate or close: the state lives as long as ``store``."""

    def __init__(self, store: InMemoryStore | None = None) -> None:
        self.store = store or InMemoryStore()
        self.readiness = AlwaysReady()

    def unit_of_work(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self.store)

    def pool_status(self) -> PoolStatus | None:
        return None

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None
