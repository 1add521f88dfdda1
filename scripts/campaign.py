#!/usr/bin/env python3
"""An SMS pumping campaign against a running PhoneReg, mixed with real users.

Driven by scripts/campaign.sh, which starts a release API (defaults, behind
TRUSTED_PROXIES=127.0.0.1) and the fake Twilio. Only the standard library.

Attackers, never verifying, each number in one of three ranges (GB +44740, AU +61412,
US +1415), each account registering with a number and swapping it nine times:
  A. from rotating addresses of one IPv6 /64,
  B. from a different IPv4 address each (the case only the fraud guard stops).
Real users, from their own addresses, register with a mobile number (a third of them
in the attacked countries but other ranges), read the code the fake Twilio received
and verify it.

Prints what reached the attacker's numbers, how many real users verified, and every
request of a real user that was refused.
"""

import json
import random
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

BASE, FAKE = sys.argv[1], sys.argv[2]
ATTACKERS = int(sys.argv[3]) if len(sys.argv) > 3 else 150
REAL = int(sys.argv[4]) if len(sys.argv) > 4 else 150
PASSWORD = "campaign password 1"
RUN = random.randrange(16**6)

ATTACKED = ["+4474001", "+614120", "+1415523"]  # +44740, +61412, +1415
# Real users: other ranges of the attacked countries, and other countries.
REAL_PATTERNS = ["+4471234", "+614330", "+1650253", "+336120", "+346120", "+4670123"]


def number(prefix, n):
    digits = {"+44": 13, "+61": 12, "+1": 12, "+33": 12, "+34": 12, "+46": 12}
    total = next(v for k, v in digits.items() if prefix.startswith(k))
    return prefix + str(n).zfill(total - len(prefix))[-(total - len(prefix)):]


def call(method, path, client, body=None, token=None):
    req = urllib.request.Request(BASE + path, method=method)
    req.add_header("X-Forwarded-For", client)
    if body is not None:
        req.data = json.dumps(body).encode()
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            raw = r.read()
            return r.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, {"raw": raw.decode(errors="replace")}


lock = threading.Lock()
outcomes = {}          # (who, status, problem type) -> count
real_refusals = []     # (status, body) of real users


def tally(who, status, body):
    kind = (body or {}).get("type", "") if isinstance(body, dict) else ""
    key = (who, status, kind.rsplit("/", 1)[-1])
    with lock:
        outcomes[key] = outcomes.get(key, 0) + 1


def attacker(i, phase):
    client = (f"2001:db8:66:1:{random.randrange(65536):x}:{random.randrange(65536):x}::{i:x}"
              if phase == "A" else f"100.{64 + i // 250}.{i % 250}.{random.randrange(1, 250)}")
    rng = ATTACKED[i % 3]
    status, body = call("POST", "/api/v1/auth/register", client, {
        "email": f"pump{phase}{i}-{RUN}@example.com", "password": PASSWORD,
        "full_name": "Pump", "phone_number": number(rng, i * 10)})
    tally("attacker", status, body)
    if status != 201:
        return
    token, phone_id = body["access_token"], body["user"]["phone"]["id"]
    for k in range(1, 10):
        status, body = call("PATCH", f"/api/v1/users/me/phone-numbers/{phone_id}", client,
                            {"phone_number": number(rng, i * 10 + k)}, token)
        tally("attacker", status, body)


def fake_messages():
    with urllib.request.urlopen(FAKE + "/_fake/messages", timeout=30) as r:
        return json.loads(r.read())["messages"]


def real_user(i):
    client = f"203.0.{i // 250}.{i % 250 + 1}"
    e164 = number(REAL_PATTERNS[i % len(REAL_PATTERNS)], 1000 + i)
    status, body = call("POST", "/api/v1/auth/register", client, {
        "email": f"real{i}-{RUN}@example.com", "password": PASSWORD,
        "full_name": "Real Person", "phone_number": e164})
    tally("real", status, body)
    if status != 201:
        with lock:
            real_refusals.append((e164, status, body))
        return False
    token, phone_id = body["access_token"], body["user"]["phone"]["id"]
    deadline = time.time() + 60
    code = None
    while time.time() < deadline and code is None:
        for m in fake_messages():
            if m["to"] == e164:
                code = next(w for w in m["body"].replace(".", " ").split() if len(w) == 6 and w.isdigit())
        if code is None:
            time.sleep(0.3)
    if code is None:
        with lock:
            real_refusals.append((e164, "no SMS", None))
        return False
    status, body = call("POST", f"/api/v1/users/me/phone-numbers/{phone_id}/verify", client,
                        {"code": code}, token)
    tally("real", status, body)
    if status != 200:
        with lock:
            real_refusals.append((e164, status, body))
    return status == 200


def main():
    for pattern in ATTACKED + REAL_PATTERNS:
        sample = number(pattern, 4242)
        status, body = call("GET", "/api/v1/phone-numbers/parse?number=" + urllib.parse.quote(sample),
                            "192.0.2.200")
        if status != 200 or not body.get("sms_capable"):
            sys.exit(f"campaign: {sample} is not an SMS-capable number to this server: {body}")
    started = time.time()
    with ThreadPoolExecutor(max_workers=12) as pool:
        jobs = []
        # Interleave: attack waves and real users arrive together.
        for i in range(max(ATTACKERS, REAL)):
            if i < ATTACKERS:
                jobs.append(pool.submit(attacker, i, "A"))
                jobs.append(pool.submit(attacker, i, "B"))
            if i < REAL:
                jobs.append(pool.submit(real_user, i))
        results = [j.result() for j in jobs]
    elapsed = time.time() - started
    verified = sum(1 for r in results if r is True)
    # Let the outbox hand over all it holds: wait until the fake's count stops growing.
    messages, stable_since, deadline = fake_messages(), time.time(), time.time() + 90
    while time.time() - stable_since < 5 and time.time() < deadline:
        time.sleep(0.5)
        now = fake_messages()
        if len(now) != len(messages):
            messages, stable_since = now, time.time()
    to_attacker = [m for m in messages if any(m["to"].startswith(p) for p in ATTACKED)]
    print(f"campaign: {2 * ATTACKERS} attacker accounts (half from one IPv6 /64, half from "
          f"{ATTACKERS} IPv4 addresses), 3 ranges, 9 swaps each; {REAL} real users; {elapsed:.1f} s")
    print(f"SMS reaching the attacker's numbers: {len(to_attacker)} (target <= 60)")
    print(f"real users verified: {verified}/{REAL} ({100.0 * verified / REAL:.1f} %, target >= 99 %)")
    print(f"real users' requests refused: {len(real_refusals)} (target 0)")
    for e164, status, body in real_refusals[:10]:
        print(f"  {e164[:6]}…: {status} {json.dumps(body)[:200] if body else ''}")
    print("answers by who, status and problem type:")
    for (who, status, kind), n in sorted(outcomes.items()):
        print(f"  {who:8} {status} {kind or '-':20} {n}")
    ok = len(to_attacker) <= 60 and verified >= 0.99 * REAL and not real_refusals
    print("campaign: PASS" if ok else "campaign: MISS")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
