-- Shared by every scenario script (loaded with dofile).
--
-- done() runs once in wrk's main thread after the run and prints wrk's totals as one
-- machine-readable line. bench.sh reads that line instead of wrk's human output, whose
-- latency units change with magnitude (us/ms/s/m); here every latency is an integer
-- number of microseconds.
--
-- non2xx is wrk's count of responses with status > 399; the socket error counts are
-- connections wrk could not open, reads/writes that failed, and requests that timed out.

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d non2xx=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99),
    e.status, e.connect, e.read, e.write, e.timeout))
end

-- setup() runs in the main Lua state once per wrk thread, before the threads start;
-- each thread gets a small integer id it can read as the global `id` in init().
local next_id = 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end
