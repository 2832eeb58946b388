# A Sidekiq-style job flow with Debian's ruby-redis, against the server on 127.0.0.1:ARGV[0]:
# jobs pushed as JSON onto queue lists with the queue set, scheduled jobs in a sorted set moved
# by a Lua poller (ZRANGEBYSCORE + ZREM + LPUSH in one script, as Sidekiq's scheduler does),
# BRPOP fetches, per-day processed/failed counters with BITFIELD and INCRBY, and a fixed-window
# rate limiter with BITFIELD OVERFLOW SAT. Prints one JSON line that
# tests/python/test_sidekiq_style.py compares between ferrocache and redis-server.
require "json"
require "redis"

r = Redis.new(host: "127.0.0.1", port: Integer(ARGV[0]))
r.flushdb

POLL = <<~LUA
  local moved = 0
  local due = redis.call('zrangebyscore', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 100)
  for _, job in ipairs(due) do
    if redis.call('zrem', KEYS[1], job) == 1 then
      local queue = cjson.decode(job)['queue']
      redis.call('sadd', 'queues', queue)
      redis.call('lpush', 'queue:' .. queue, job)
      moved = moved + 1
    end
  end
  return moved
LUA

def push(r, queue, klass, args)
  r.sadd?("queues", queue)
  r.lpush("queue:#{queue}", JSON.generate({ "queue" => queue, "class" => klass, "args" => args }))
end

push(r, "default", "AddJob", [1, 2])
push(r, "default", "FailJob", [])
push(r, "mailers", "AddJob", [10, 20])
r.zadd("schedule", 100, JSON.generate({ "queue" => "default", "class" => "AddJob", "args" => [3, 4] }))
r.zadd("schedule", 10**12, JSON.generate({ "queue" => "default", "class" => "AddJob", "args" => [5, 6] }))
sha = r.script(:load, POLL)
moved = r.evalsha(sha, keys: ["schedule"], argv: [1000])

results = []
day = "2026-12-07"
loop do
  popped = r.brpop("queue:default", "queue:mailers", timeout: 1)
  break if popped.nil?
  job = JSON.parse(popped[1])
  if job["class"] == "FailJob"
    r.incrby("stat:failed", 1)
    r.bitfield("stat:daily:#{day}", "INCRBY", "u32", "#1", 1)
  else
    results << job["args"].sum
    r.incrby("stat:processed", 1)
    r.bitfield("stat:daily:#{day}", "INCRBY", "u32", "#0", 1)
  end
end

limiter = (1..12).map { r.bitfield("limit:api", "OVERFLOW", "SAT", "INCRBY", "u4", 0, 2).first }

puts JSON.generate({
  "moved" => moved,
  "results" => results,
  "processed" => r.get("stat:processed"),
  "failed" => r.get("stat:failed"),
  "daily" => r.bitfield("stat:daily:#{day}", "GET", "u32", "#0", "GET", "u32", "#1"),
  "limiter" => limiter,
  "queues" => r.smembers("queues").sort,
  "scheduled_left" => r.zcard("schedule"),
})
