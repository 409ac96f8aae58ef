"""What the app does once at start-up, before it serves."""

import gc

from tests.e2e.conftest import make_client


def test_objects_alive_at_start_up_are_frozen_out_of_garbage_collection(
    database_url: str,
) -> None:
    gc.unfreeze()  # whatever an earlier app in this test process froze
    assert gc.get_freeze_count() == 0
    with make_client(database_url, migrate_on_startup=False) as client:
        frozen = gc.get_freeze_count()
        assert client.get("/health").status_code == 200
    # Modules, routes and tables: tens of thousands of objects no collection walks again.
    assert frozen > 10_000, frozen
    # Until the app stops: then they may be collected like anything else.
    assert gc.get_freeze_count() == 0
