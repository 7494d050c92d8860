"""The store on Redis, shared by every replica behind one load balancer.

Keys (under ``gitops-serve:``): ``delivery:<id>`` remembers a delivery (``SET NX EX``);
``pending`` (hash) and ``ready`` (sorted set by time due) hold one waiting job per pull
request; ``lease:<pr>`` is a run's lease (``SET NX PX`` with a random token, renewed by its
holder); ``running`` (hash) keeps the job of every leased run, so a run whose holder died
goes back in line once its lease expires: jobs are run at least once. Every step that reads
and writes is one Lua script, so replicas never interleave halfway.
"""

from __future__ import annotations

from typing import Any, cast

import redis

from gitops_actions.errors import ExternalError
from gitops_actions.serve.events import Job
from gitops_actions.serve.store import DELIVERY_MEMORY, Claim, Verdict, new_token

PREFIX = "gitops-serve:"
SCAN = 64  # waiting pull requests looked at per claim

_REQUEUE = """
local function now_ms()
  local now = redis.call('TIME')
  return now[1] * 1000 + math.floor(now[2] / 1000)
end
local function requeue(pending, ready, running, key, job, due)
  redis.call('HDEL', running, key)
  if redis.call('HEXISTS', pending, key) == 0 then
    redis.call('HSET', pending, key, job)
    redis.call('ZADD', ready, due, key)
  end
end
"""

# KEYS: delivery (or ''), pending, ready, seq   ARGV: verdict, key, job, limit, memory
_ACCEPT = (
    _REQUEUE
    + """
if KEYS[1] ~= '' and redis.call('EXISTS', KEYS[1]) == 1 then
  return 'duplicate'
end
if ARGV[1] == 'queued' then
  if redis.call('HEXISTS', KEYS[2], ARGV[2]) == 0
     and redis.call('HLEN', KEYS[2]) >= tonumber(ARGV[4]) then
    return 'full'
  end
  local job = cjson.decode(ARGV[3])
  job['seq'] = redis.call('INCR', KEYS[4])
  redis.call('HSET', KEYS[2], ARGV[2], cjson.encode(job))
  redis.call('ZADD', KEYS[3], 'NX', now_ms(), ARGV[2])
elseif ARGV[1] == 'cancelled' then
  redis.call('HDEL', KEYS[2], ARGV[2])
  redis.call('ZREM', KEYS[3], ARGV[2])
end
if KEYS[1] ~= '' then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', tonumber(ARGV[5]))
end
return ARGV[1]
"""
)

# KEYS: pending, ready, running   ARGV: prefix, token, ttl ms, scan
_CLAIM = (
    _REQUEUE
    + """
local ms = now_ms()
local held = redis.call('HGETALL', KEYS[3])
for i = 1, #held, 2 do
  if redis.call('EXISTS', ARGV[1] .. 'lease:' .. held[i]) == 0 then
    requeue(KEYS[1], KEYS[2], KEYS[3], held[i], cjson.decode(held[i + 1])['job'], ms)
  end
end
for _, key in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ms, 'LIMIT', 0, ARGV[4])) do
  local lease = ARGV[1] .. 'lease:' .. key
  if redis.call('SET', lease, ARGV[2], 'NX', 'PX', ARGV[3]) then
    local job = redis.call('HGET', KEYS[1], key)
    redis.call('HDEL', KEYS[1], key)
    redis.call('ZREM', KEYS[2], key)
    if job then
      redis.call('HSET', KEYS[3], key, cjson.encode({job = job, token = ARGV[2]}))
      return job
    end
    redis.call('DEL', lease)
  end
end
return false
"""
)

# KEYS: lease   ARGV: token, ttl ms
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

# KEYS: lease, pending, ready, running   ARGV: token, key, job, retry in ms (or '')
_FINISH = (
    _REQUEUE
    + """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[1])
if ARGV[4] == '' then
  redis.call('HDEL', KEYS[4], ARGV[2])
else
  requeue(KEYS[2], KEYS[3], KEYS[4], ARGV[2], ARGV[3], now_ms() + tonumber(ARGV[4]))
end
return 1
"""
)


class RedisStore:
    def __init__(self, url: str, owner: str) -> None:
        self.owner = owner
        try:
            self._redis = redis.Redis.from_url(
                url, socket_timeout=5, socket_connect_timeout=5, health_check_interval=30
            )
        except ValueError as err:
            raise ExternalError(f"--queue: {err}", transient=False) from None
        self._accept = self._redis.register_script(_ACCEPT)
        self._claim = self._redis.register_script(_CLAIM)
        self._renew = self._redis.register_script(_RENEW)
        self._finish = self._redis.register_script(_FINISH)
        self.ping()

    def _key(self, name: str) -> str:
        return PREFIX + name

    def _call(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        try:
            return script(keys=keys, args=args)
        except redis.RedisError as err:
            raise ExternalError(f"redis: {type(err).__name__}: {err}", transient=True) from None

    def accept(self, delivery: str, verdict: Verdict, job: Job | None, limit: int) -> Verdict:
        keys = [
            self._key(f"delivery:{delivery}") if delivery else "",
            self._key("pending"),
            self._key("ready"),
            self._key("seq"),
        ]
        args = [
            verdict,
            job.key if job else "",
            job.to_json() if job else "",
            limit,
            int(DELIVERY_MEMORY),
        ]
        found = self._call(self._accept, keys, args)
        text = found.decode() if isinstance(found, bytes) else str(found)
        return cast(Verdict, text)

    def claim(self, owner: str, ttl: float) -> Claim | None:
        token = new_token()
        keys = [self._key("pending"), self._key("ready"), self._key("running")]
        found = self._call(self._claim, keys, [PREFIX, token, int(ttl * 1000), SCAN])
        if not found:
            return None
        return Claim(Job.from_json(found.decode()), token)

    def renew(self, claim: Claim, ttl: float) -> bool:
        lease = self._key(f"lease:{claim.job.key}")
        return bool(self._call(self._renew, [lease], [claim.token, int(ttl * 1000)]))

    def finish(self, claim: Claim, retry_in: float | None = None) -> bool:
        keys = [
            self._key(f"lease:{claim.job.key}"),
            self._key("pending"),
            self._key("ready"),
            self._key("running"),
        ]
        due = "" if retry_in is None else str(int(retry_in * 1000))
        args = [claim.token, claim.job.key, claim.job.to_json(), due]
        return bool(self._call(self._finish, keys, args))

    def waiting(self, key: str) -> bool:
        try:
            return bool(self._redis.hexists(self._key("pending"), key))
        except redis.RedisError as err:
            raise ExternalError(f"redis: {err}", transient=True) from None

    def depth(self) -> int:
        try:
            return int(self._redis.hlen(self._key("pending")))
        except redis.RedisError as err:
            raise ExternalError(f"redis: {err}", transient=True) from None

    def ping(self) -> None:
        try:
            self._redis.ping()
        except redis.RedisError as err:
            raise ExternalError(f"redis unreachable: {err}", transient=True) from None

    def close(self) -> None:
        self._redis.close()
