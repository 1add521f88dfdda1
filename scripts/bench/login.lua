-- POST /api/v1/auth/login for one pre-registered account. The request never changes,
-- so it is set up once in init() and wrk sends the pre-built bytes (no per-request Lua).
--
-- usage: wrk ... -s login.lua URL -- <email>

dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.body = string.format('{"email":"%s","password":"benchmark password"}', args[1])
end
