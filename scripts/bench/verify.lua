-- POST /api/v1/users/me/phone-numbers/{id}/verify with the right code, once per record:
-- the codes are the ones the send-code run had sent through the fake Twilio, which
-- bench.sh harvested from its message log.
--
-- The records file has one `<access token> <phone id> <code>` line per record; each wrk
-- thread walks its own slice of it.
--
-- usage: wrk -t<threads> ... -s verify.lua URL -- <records file> <threads>

dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

function init(args)
  load_requests(args[1], tonumber(args[2]), function(f)
    return wrk.format("POST", "/api/v1/users/me/phone-numbers/" .. f[2] .. "/verify",
      { ["Authorization"] = "Bearer " .. f[1], ["Content-Type"] = "application/json" },
      string.format('{"code":"%s"}', f[3]))
  end)
end

function request()
  return next_prepared()
end
