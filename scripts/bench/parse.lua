-- GET /api/v1/phone-numbers/parse over many different numbers: the lookup's cost is the
-- parser's, which depends on the region (each region has its own patterns), so one
-- repeated number would measure a warm cache of one region only.
--
-- The paths file has one pre-encoded `/api/v1/phone-numbers/parse?number=…&region=…`
-- per line (bench.sh writes it from the oracle table); every thread cycles through all
-- of it, starting at its own offset. Requests are pre-built in init(), so request() is a
-- table lookup.
--
-- usage: wrk ... -s parse.lua URL -- <paths file>

dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local requests, n = {}, 0

function init(args)
  for line in io.lines(args[1]) do
    table.insert(requests, wrk.format("GET", line))
  end
  n = (id * 997) % #requests
end

function request()
  n = n % #requests + 1
  return requests[n]
end
