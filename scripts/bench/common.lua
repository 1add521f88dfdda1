-- Shared by every scenario script (loaded with dofile).
--
-- done() runs once in wrk's main thread after the run and prints wrk's totals as one
-- machine-readable line. bench.sh reads that line instead of wrk's human output, whose
-- latency units change with magnitude (us/ms/s/m); here every latency is an integer
-- number of microseconds.
--
-- non2xx is wrk's count of responses with status > 399; the socket error counts are
-- connections wrk could not open, reads/writes that failed, and requests that timed out.
-- exhausted is the number of threads that used up their records (load_requests below)
-- before the run ended, and active_us how long the longest-running thread had work:
-- the whole run unless every thread ran out. wrk counts nothing after a thread stops,
-- so requests / active_us is then the rate while there was work.

local threads = {}

function done(summary, latency, requests)
  local e = summary.errors
  local exhausted, active_us = 0, 0
  for _, t in ipairs(threads) do
    if (t:get("exhausted") or 0) > 0 then
      exhausted = exhausted + 1
      active_us = math.max(active_us, t:get("stopped_us") - t:get("started_us"))
    else
      active_us = summary.duration
    end
  end
  io.write(string.format(
    "BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d non2xx=%d connect=%d read=%d write=%d timeout=%d exhausted=%d active_us=%d\n",
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99),
    e.status, e.connect, e.read, e.write, e.timeout, exhausted,
    math.min(active_us, summary.duration)))
end

-- Wall-clock microseconds (wrk runs LuaJIT, whose ffi reaches gettimeofday).
local ffi = require("ffi")
ffi.cdef[[
  typedef struct { long tv_sec; long tv_usec; } bench_timeval;
  int gettimeofday(bench_timeval *tv, void *tz);
]]
local function now_us()
  local tv = ffi.new("bench_timeval")
  ffi.C.gettimeofday(tv, nil)
  return tonumber(tv.tv_sec) * 1000000 + tonumber(tv.tv_usec)
end

-- setup() runs in the main Lua state once per wrk thread, before the threads start;
-- each thread gets a small integer id it can read as the global `id` in init().
local next_id = 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

-- Records: scenarios that must touch every record once (send-code, verify) read a file
-- of whitespace-separated lines that bench.sh wrote. Thread `id` of `nthreads` takes its
-- own contiguous slice, so no two threads (and no two requests) share a record, and
-- pre-builds one request per line with `build(fields)`: request() then only hands out
-- the next string, which keeps wrk's own CPU cost per request to a table lookup.
local prepared, next_request, verified = {}, 1, true

function load_requests(path, nthreads, build)
  local total = 0
  for _ in io.lines(path) do total = total + 1 end
  local first = math.floor(total * id / nthreads) + 1
  local last = math.floor(total * (id + 1) / nthreads)
  local n = 0
  for line in io.lines(path) do
    n = n + 1
    if n > last then break end
    if n >= first then
      local fields = {}
      for field in line:gmatch("%S+") do table.insert(fields, field) end
      table.insert(prepared, build(fields))
    end
  end
  exhausted = 0
  verified = id ~= 0
  -- init() runs just before wrk starts this thread.
  started_us = now_us()
end

-- The next prepared request. When this thread's slice is used up it stops (sending a
-- record twice would measure a refusal) and says so through `exhausted`; the few
-- requests its connections still ask for are harmless GET /healthz.
--
-- wrk calls request() once on thread 0 before the run, only to count the requests in
-- the string (script_verify_request, for pipelining), and never sends that one: thread
-- 0 gives it a GET /healthz so that no record is lost.
function next_prepared()
  if not verified then
    verified = true
    return wrk.format("GET", "/healthz")
  end
  local req = prepared[next_request]
  if req then
    next_request = next_request + 1
    return req
  end
  if exhausted == 0 then
    exhausted = 1
    stopped_us = now_us()
    wrk.thread:stop()
  end
  return wrk.format("GET", "/healthz")
end
