"""Django's Redis cache, with one Redis client per process for writes and one for reads, instead of
one per operation.

Django's client builds a new ``redis.Redis`` for every cache operation, and each one builds its
table of some two hundred reply callbacks: a page that reads a few versioned fragments spent more
on that than on Redis itself. A ``redis.Redis`` is safe to share between threads (each command
takes a connection from its pool) and its pool opens new connections in a forked process. With
read replicas (several servers in LOCATION), a process reads from the one it first picked.
"""

from typing import Any

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient as DjangoRedisCacheClient
from redis import Redis


class RedisCacheClient(DjangoRedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[bool, Redis] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Redis:
        client = self._clients.get(write)
        if client is None:
            client = self._clients[write] = super().get_client(key, write=write)
        return client


class RedisCache(DjangoRedisCache):
    def __init__(self, server: str | list[str], params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient
