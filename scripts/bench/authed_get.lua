-- GET the URL on the command line with `Authorization: Bearer <token>`. bench.sh passes
-- one access token per pre-registered user; wrk thread i uses token i mod n, so the
-- load is spread over several accounts while each thread still sends one pre-built
-- request (no per-request Lua, which would cost wrk CPU at tens of thousands of req/s
-- on a machine the server shares).
--
-- usage: wrk ... -s authed_get.lua URL -- <token> [<token> ...]

dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

function init(args)
  local token = args[(id % #args) + 1]
  wrk.headers["Authorization"] = "Bearer " .. token
end
