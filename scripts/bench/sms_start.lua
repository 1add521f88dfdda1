-- POST /api/v1/auth/sms/start (purpose sign_in), once per seeded verified number, so
-- the cool-down and the per-number caps are in force and none of them refuses.
--
-- The records file has one `<e164>` line per number; each wrk thread walks its own slice.
--
-- usage: wrk -t<threads> ... -s sms_start.lua URL -- <records file> <threads>

dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

function init(args)
  load_requests(args[1], tonumber(args[2]), function(f)
    return wrk.format("POST", "/api/v1/auth/sms/start",
      { ["Content-Type"] = "application/json" },
      string.format('{"phone_number":"%s","purpose":"sign_in"}', f[1]))
  end)
end

function request()
  return next_prepared()
end
