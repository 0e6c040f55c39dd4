"""The Redis cache keeps one client per process for reads and one for writes, and works as Django's."""

import threading

import pytest

from ybiyri.cache import RedisCache

pytestmark = pytest.mark.services


@pytest.fixture
def redis_cache(redis_url):
    backend = RedisCache(redis_url, {"KEY_PREFIX": "cache-backend-test"})
    yield backend
    backend.delete_many(["answer", "counter", *[f"thread-{n}" for n in range(8)]])


def test_operations_share_one_client_for_reads_and_one_for_writes(redis_cache):
    client = redis_cache._cache
    assert client.get_client(write=False) is client.get_client("any", write=False)
    assert client.get_client(write=True) is client.get_client("other", write=True)


def test_values_round_trip_as_with_djangos_backend(redis_cache):
    redis_cache.set("answer", {"figures": [42, "forty-two"]})
    assert redis_cache.get("answer") == {"figures": [42, "forty-two"]}
    assert redis_cache.add("answer", "another") is False
    redis_cache.set("counter", 1)
    assert redis_cache.incr("counter", 2) == 3
    assert redis_cache.get_many(["answer", "counter", "missing"]) == {
        "answer": {"figures": [42, "forty-two"]},
        "counter": 3,
    }


def test_threads_share_the_clients_without_mixing_answers(redis_cache):
    failures = []

    def work(number: int) -> None:
        for round_ in range(50):
            redis_cache.set(f"thread-{number}", (number, round_))
            if redis_cache.get(f"thread-{number}") != (number, round_):
                failures.append(number)

    threads = [threading.Thread(target=work, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
