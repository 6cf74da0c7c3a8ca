"""The Redis server behind the shared cache and the shared quota schedule: its URL, a
connected client, the layout claim, the eviction warning.

Both the answer store (``remote/store_redis.py``) and the quota schedule
(``remote/pacing.py``) use one Redis; this module sits below both, so neither imports the
other. The ``redis`` library is imported only when a Redis URL is used.
"""

from __future__ import annotations

import os
from typing import Any

from rcsqualify.errors import ConfigurationError
from rcsqualify.masking import mask_redis_url, redis_host
from rcsqualify.notes import note
from rcsqualify.remote.layout import LAYOUT, LEGACY, UPGRADABLE, check_layout
from rcsqualify.textsafe import safe_text

REDIS_PREFIX = "rcsq:"


def is_redis_url(url: str | None) -> bool:
    return bool(url) and str(url).split("://", 1)[0].lower() in ("redis", "rediss")


def redis_client(url: str) -> Any:
    """A connected client for ``url`` (password from the URL or, better,
    ``RCSQUALIFY_REDIS_PASSWORD``); one line naming the host when it cannot be used."""
    try:
        import redis
    except ImportError:
        raise ConfigurationError(
            f"{mask_redis_url(url)} needs the Redis client library: "
            "pip install 'rcsqualify[redis]'") from None
    password = os.environ.get("RCSQUALIFY_REDIS_PASSWORD") or None
    kwargs: dict[str, Any] = {"socket_timeout": 5.0, "socket_connect_timeout": 5.0,
                              "retry_on_timeout": False}
    if password is not None:
        kwargs["password"] = password

    def refused() -> ConfigurationError:
        return ConfigurationError(f"the Redis at {redis_host(url)} refused the credentials "
                                  "(RCSQUALIFY_REDIS_PASSWORD or the URL's password)")

    try:
        client = redis.Redis.from_url(url, **kwargs)
        client.ping()
    except redis.exceptions.AuthenticationError:
        raise refused() from None
    except redis.exceptions.ResponseError as exc:
        text = str(exc)
        if "NOAUTH" in text or "WRONGPASS" in text or "auth" in text.lower():
            raise refused() from None
        raise ConfigurationError(f"the Redis at {redis_host(url)}: "
                                 f"{safe_text(text, 120)}") from None
    except (redis.exceptions.RedisError, OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot reach the Redis at {redis_host(url)}: "
                                 f"{safe_text(type(exc).__name__ + ': ' + str(exc), 160)}"
                                 ) from None
    return client

#: layout 2 → 3 in Redis, atomically (hosts starting at once upgrade it once): every
#: space's hashes renamed to its LEGACY space (their expiry kept), then the version
_UPGRADE = """
local found = redis.call('GET', KEYS[1])
if found ~= ARGV[1] then return found end
for _, space in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if string.sub(space, 1, #ARGV[3]) ~= ARGV[3] then
    for b = 0, 255 do
      local old = ARGV[4] .. 'a:' .. space .. ':' .. string.format('%02x', b)
      if redis.call('EXISTS', old) == 1 then
        redis.call('RENAME', old, ARGV[4] .. 'a:' .. ARGV[3] .. space .. ':' ..
                   string.format('%02x', b))
      end
    end
    redis.call('SREM', KEYS[2], space)
    redis.call('SADD', KEYS[2], ARGV[3] .. space)
  end
end
redis.call('SET', KEYS[1], ARGV[2])
return ARGV[2]
"""


def redis_layout(client: Any, host: str) -> None:
    """Claim a fresh Redis for this layout, upgrade one of layout 2, refuse any other
    (exit 2, the version found). A read-only replica, or an ACL user without the
    commands rcsqualify runs (scripts: EVAL/EVALSHA), is one line, exit 2."""
    import redis

    p = REDIS_PREFIX
    try:
        client.set(f"{p}layout", LAYOUT, nx=True)
        found = client.eval(_UPGRADE, 2, f"{p}layout", f"{p}spaces", UPGRADABLE[0], LAYOUT,
                            LEGACY, p)
    except redis.exceptions.ReadOnlyError:
        raise ConfigurationError(
            f"the Redis at {host} is a read-only replica: rcsqualify writes its answers "
            "and quota schedule there; give the primary's URL") from None
    except redis.exceptions.NoPermissionError as exc:
        raise ConfigurationError(
            f"the Redis at {host} refused a command to this user ({safe_text(exc, 100)}): "
            "its ACL must allow GET, SET, HSET, HMGET, EXPIRE, ZADD/ZRANGE and the "
            "scripts (EVAL, EVALSHA, SCRIPT LOAD) on the rcsq:* keys") from None
    check_layout(text_of(found), f"the Redis at {host}")


def redis_eviction_warning(client: Any, host: str) -> str | None:
    """A warning when the Redis may evict keys (``maxmemory`` set with a policy other
    than ``noeviction``): answers, the shared pause and the cache key would vanish
    silently. Nothing when the server refuses ``CONFIG GET`` (managed services, ACL):
    nothing is known then."""
    import redis

    try:
        config = client.config_get("maxmemory*")
    except (redis.exceptions.RedisError, OSError):
        return None
    policy = text_of(config.get("maxmemory-policy") or config.get(b"maxmemory-policy"))
    limit = text_of(config.get("maxmemory") or config.get(b"maxmemory")) or "0"
    if not policy or policy == "noeviction" or limit.strip() == "0":
        return None
    return note("redis_evicts", host=host, policy=safe_text(policy, 40))


def text_of(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)
