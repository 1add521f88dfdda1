-- POST /api/v1/auth/register with a new email on every request (duplicates would get
-- 409 and measure the wrong thing). Uniqueness: a prefix bench.sh passes per run (so
-- the 16- and 64-connection runs on one database never collide), the thread id, and a
-- per-thread counter. Dynamic request() costs wrk some CPU, which is negligible at the
-- few hundred requests/s an Argon2id-bound endpoint manages.
--
-- usage: wrk ... -s register.lua URL -- <prefix>

dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local prefix
local counter = 0
local headers = { ["Content-Type"] = "application/json" }

function init(args)
  math.randomseed(os.time() + id)
  prefix = args[1] or tostring(math.random(1, 1e9))
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"email":"bench-%s-t%d-%d@example.com","password":"benchmark password","full_name":"Bench"}',
    prefix, id, counter)
  return wrk.format("POST", "/api/v1/auth/register", headers, body)
end
