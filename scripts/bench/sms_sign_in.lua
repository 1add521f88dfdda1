-- POST /api/v1/auth/sms/sign-in with the right code, once per code: the codes are the
-- ones the sms-start run had sent through the fake Twilio (bench.sh harvested them).
--
-- The records file has one `<e164> <code>` line per number; each wrk thread walks its
-- own slice of it.
--
-- usage: wrk -t<threads> ... -s sms_sign_in.lua URL -- <records file> <threads>

dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

function init(args)
  load_requests(args[1], tonumber(args[2]), function(f)
    return wrk.format("POST", "/api/v1/auth/sms/sign-in",
      { ["Content-Type"] = "application/json" },
      string.format('{"phone_number":"%s","code":"%s"}', f[1], f[2]))
  end)
end

function request()
  return next_prepared()
end
