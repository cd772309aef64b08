"""The bus on both implementations, for real, and the fall-back to the store when Redis is gone."""

import threading

import pytest

from data.bus import MemoryBus, RedisBus


@pytest.fixture(params=["memory", "redis"])
def bus(request):
    if request.param == "memory":
        b = MemoryBus()
    else:
        b = RedisBus(request.getfixturevalue("redis_url"))
    yield b
    b.close()


def test_latest_only_rises(bus):
    bus.publish(5)
    bus.publish(3)  # a slower process announcing an older change
    assert bus.latest() == 5
    assert bus.healthy()


def test_wait_wakes_on_a_newer_event(bus):
    bus.publish(1)
    threading.Timer(0.2, bus.publish, args=(2,)).start()
    assert bus.wait(after=1, timeout=5.0) == 2
    assert bus.wait(after=2, timeout=0.3) is None


def test_two_redis_clients_see_each_other(redis_url):
    a, b = RedisBus(redis_url), RedisBus(redis_url)
    a.publish(42)
    assert b.latest() == 42
    a.close()
    b.close()


def test_redis_outage_is_reported_not_raised():
    dead = RedisBus("redis://127.0.0.1:1/0", timeout=0.2)
    dead.publish(7)  # must not raise: the store already committed
    assert dead.latest() is None
    assert dead.healthy() is False


def test_each_database_has_its_own_cursor_in_a_shared_redis(redis_url, tmp_path):
    from data.store import Store

    old = Store(f"sqlite:///{tmp_path / 'old.db'}", RedisBus(redis_url))
    old.migrate()
    old.bus.publish(5000)  # a long-lived deployment, far ahead
    fresh = Store(f"sqlite:///{tmp_path / 'fresh.db'}", RedisBus(redis_url))
    fresh.migrate()
    fresh.bus.publish(3)
    assert fresh.bus.latest() == 3 and old.bus.latest() == 5000
    again = Store(f"sqlite:///{tmp_path / 'fresh.db'}", RedisBus(redis_url))  # another process, same database
    assert again.bus.latest() == 3
