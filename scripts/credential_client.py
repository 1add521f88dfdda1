#!/usr/bin/env python3
"""A black-box client of SPEC §8 (the number as a credential) that knows only SPEC.md:
HTTP on the API's base URL, codes read from the development inbox (SPEC §5/§7,
`GET /api/v1/dev/sms`). It signs in by code, resets a password, turns the second factor
on, logs in with it and turns it off, and checks that a number with an account cannot
be told from one without (answers byte for byte apart from timestamps, and the timing of
the two starts). Prints one line per check; exits 1 on the first failure.

usage: credential_client.py BASE_URL
"""
import json, re, statistics, sys, time, urllib.error, urllib.request

BASE = sys.argv[1].rstrip("/")
RUN = int(time.time()) % 10000
# US numbers of this run (+1 <area> 555 dddd, valid fixed-line-or-mobile numbers): one
# gets an account, the other never does.
OWNED = f"+1415555{RUN:04d}"
STRANGER = f"+1646555{RUN:04d}"
PASSWORD = "first passphrase 1"
NEW_PASSWORD = "second passphrase 2"


def call(method, path, body=None, token=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(BASE + path, data=data, method=method)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(req) as r:
            raw, status, hdrs = r.read(), r.status, r.headers
    except urllib.error.HTTPError as e:
        raw, status, hdrs = e.read(), e.code, e.headers
    took = time.perf_counter() - started
    return status, (json.loads(raw) if raw else None), hdrs, took


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        sys.exit(1)


def expect(status, want, body, what):
    check(status == want, f"{what}: {status} (want {want}){'' if status == want else ' ' + json.dumps(body)}")


SEEN = {}


def latest_code(number):
    """The code of the next SMS to `number` (the outbox sends after the answer)."""
    for _ in range(200):
        _, inbox, _, _ = call("GET", "/api/v1/dev/sms")
        mine = [m for m in inbox["items"] if m["to"] == number]
        if len(mine) > SEEN.get(number, 0):
            SEEN[number] = len(mine)
            found = re.search(r"#(\d{6})\s*$", mine[0]["body"])
            if found:
                return found.group(1), mine[0]["body"]
        time.sleep(0.05)
    check(False, f"a code reached {number}")


def count_sms(number):
    _, inbox, _, _ = call("GET", "/api/v1/dev/sms")
    return sum(1 for m in inbox["items"] if m["to"] == number)


def blank_times(body):
    return re.sub(r'"\d{4}-\d\d-\d\dT[^"]*"', '"T"', json.dumps(body, sort_keys=True))


# --- an account with a verified number -------------------------------------------------
s, b, _, _ = call("POST", "/api/v1/auth/register", {
    "email": f"owner{RUN}@example.com", "password": PASSWORD, "full_name": "Owner",
    "phone_number": OWNED})
expect(s, 201, b, "register with a phone")
token, phone_id = b["access_token"], b["user"]["phone"]["id"]
code, _ = latest_code(OWNED)
s, b, _, _ = call("POST", f"/api/v1/users/me/phone-numbers/{phone_id}/verify", {"code": code}, token)
expect(s, 200, b, "verify the number")

# --- enumeration safety ----------------------------------------------------------------
before = count_sms(STRANGER)
s1, b1, _, t1 = call("POST", "/api/v1/auth/sms/start", {"phone_number": OWNED, "purpose": "sign_in"})
s2, b2, _, t2 = call("POST", "/api/v1/auth/sms/start", {"phone_number": STRANGER, "purpose": "sign_in"})
check(s1 == s2 == 202 and blank_times(b1) == blank_times(b2),
      f"start: owned and stranger answer alike ({s1}, {s2})")
code, body = latest_code(OWNED)
check(body.rstrip().endswith(f" #{code}") and "\n@" in body, "the SMS ends with the WebOTP line")
check(count_sms(STRANGER) == before, "no SMS to the number without an account")
wrong = "000000" if code != "000000" else "111111"
s1, b1, _, _ = call("POST", "/api/v1/auth/sms/sign-in", {"phone_number": OWNED, "code": wrong})
s2, b2, _, _ = call("POST", "/api/v1/auth/sms/sign-in", {"phone_number": STRANGER, "code": wrong})
check(s1 == s2 == 422 and blank_times(b1) == blank_times(b2),
      f"wrong code: owned and stranger answer alike ({s1}, {s2})")
# Timing class: one sign-in start to each of 5 more verified numbers and 5 numbers
# without an account, interleaved; the medians must be of one class (no hashing, no
# extra round trip on either side).
owned_times, stranger_times = [], []
extra = []
for i in range(5):
    number = f"+1212555{(RUN + i) % 10000:04d}"
    s, b, _, _ = call("POST", "/api/v1/auth/register", {
        "email": f"timing{i}-{RUN}@example.com", "password": PASSWORD, "full_name": "T",
        "phone_number": number})
    expect(s, 201, b, f"register timing account {i}")
    c, _ = latest_code(number)
    s, b, _, _ = call("POST", f"/api/v1/users/me/phone-numbers/{b['user']['phone']['id']}/verify", {"code": c}, b["access_token"])
    expect(s, 200, b, f"verify timing account {i}")
    extra.append(number)
for i, number in enumerate(extra):
    _, _, _, t = call("POST", "/api/v1/auth/sms/start", {"phone_number": number, "purpose": "sign_in"})
    owned_times.append(t)
    _, _, _, t = call("POST", "/api/v1/auth/sms/start", {"phone_number": f"+1718555{(RUN + i) % 10000:04d}", "purpose": "sign_in"})
    stranger_times.append(t)
m_owned, m_stranger = statistics.median(owned_times) * 1000, statistics.median(stranger_times) * 1000
check(abs(m_owned - m_stranger) < 5,
      f"start takes as long with an account as without (medians of 5: {m_owned:.1f} ms, {m_stranger:.1f} ms)")

# --- sign in by code -------------------------------------------------------------------
# The code of the start above (one wrong try spent on it).
s, b, _, _ = call("POST", "/api/v1/auth/sms/sign-in", {"phone_number": OWNED, "code": code})
expect(s, 200, b, "sign in by code")
check(b["user"]["phone"]["e164"] == OWNED and bool(b["access_token"]), "the session is the owner's")
s, b, _, _ = call("POST", "/api/v1/auth/sms/sign-in", {"phone_number": OWNED, "code": code})
expect(s, 410, b, "the code is single use")

# --- password reset --------------------------------------------------------------------
s, b, _, _ = call("POST", "/api/v1/auth/login", {"email": f"owner{RUN}@example.com", "password": PASSWORD})
expect(s, 200, b, "login with the old password")
old_refresh = b["refresh_token"]
s, b, _, _ = call("POST", "/api/v1/auth/sms/start", {"phone_number": OWNED, "purpose": "password_reset"})
expect(s, 202, b, "start a password reset")
code, _ = latest_code(OWNED)
s, b, _, _ = call("POST", "/api/v1/auth/password-reset", {"phone_number": OWNED, "code": code, "new_password": NEW_PASSWORD})
expect(s, 204, b, "reset the password")
s, b, _, _ = call("POST", "/api/v1/auth/refresh", {"refresh_token": old_refresh})
expect(s, 401, b, "the old session is revoked")
s, b, _, _ = call("POST", "/api/v1/auth/login", {"email": f"owner{RUN}@example.com", "password": NEW_PASSWORD})
expect(s, 200, b, "login with the new password")
token = b["access_token"]

# --- second factor on, login with it, off ---------------------------------------------
s, b, _, _ = call("PUT", "/api/v1/users/me/two-factor", {"enabled": True, "password": NEW_PASSWORD}, token)
expect(s, 200, b, "turn two-step sign-in on")
s, b, hdrs, _ = call("POST", "/api/v1/auth/login", {"email": f"owner{RUN}@example.com", "password": NEW_PASSWORD})
check(s == 200 and b.get("mfa_required") is True and "access_token" not in b and hdrs.get("Set-Cookie") is None,
      "login answers mfa_required, no tokens, no cookie")
mfa_token = b["mfa_token"]
code, _ = latest_code(OWNED)
s, b, _, _ = call("POST", "/api/v1/auth/login/verify", {"mfa_token": mfa_token, "code": code})
expect(s, 200, b, "login/verify with the code")
token = b["access_token"]
s, b, _, _ = call("POST", "/api/v1/auth/login/verify", {"mfa_token": mfa_token, "code": code})
expect(s, 410, b, "the mfa_token is single use")
s, b, _, _ = call("POST", "/api/v1/users/me/two-factor/code", None, token)
expect(s, 202, b, "a code to turn it off")
code, _ = latest_code(OWNED)
s, b, _, _ = call("PUT", "/api/v1/users/me/two-factor", {"enabled": False, "password": NEW_PASSWORD, "code": code}, token)
expect(s, 200, b, "turn two-step sign-in off")
s, b, _, _ = call("POST", "/api/v1/auth/login", {"email": f"owner{RUN}@example.com", "password": NEW_PASSWORD})
check(s == 200 and "access_token" in b, "login gives tokens again")
print("all checks passed")
