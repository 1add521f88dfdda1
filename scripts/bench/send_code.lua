-- POST /api/v1/users/me/phone-numbers/{id}/verification (send a code), each request for
-- a different phone record of a different account, so the resend cool-down, the
-- per-number and the per-account caps are all in force and none of them refuses.
--
-- The records file has one `<access token> <phone id>` line per seeded account
-- (bench.sh signs the tokens); each wrk thread walks its own slice of it.
--
-- usage: wrk -t<threads> ... -s send_code.lua URL -- <records file> <threads>

dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

function init(args)
  load_requests(args[1], tonumber(args[2]), function(f)
    return wrk.format("POST", "/api/v1/users/me/phone-numbers/" .. f[2] .. "/verification",
      { ["Authorization"] = "Bearer " .. f[1] })
  end)
end

function request()
  return next_prepared()
end
