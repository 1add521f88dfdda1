#!/usr/bin/env python3
"""An SMS pumping campaign against a running PhoneReg, mixed with real users.

Driven by scripts/campaign.sh, which starts a release API (defaults, behind
TRUSTED_PROXIES=127.0.0.1, a bot challenge by the fake siteverify unless
CAMPAIGN_CAPTCHA=off) and the fake Twilio. Only the standard library.

Attackers never verify. Each account registers with a number and swaps it nine times.
  A. 3 ranges (GB +44740, AU +61412, US +1415), from rotating addresses of one IPv6 /64;
  B. the same ranges, from a different IPv4 address each (what only the fraud guard stops);
  C. a distributed pumper: every request from another of CAMPAIGN_PUMP_NETS /64s of one
     IPv6 /48, each number in another range of hundreds over many countries (the mobile
     example of every region in crates/api/tests/data/phone_oracle.tsv that this server
     would text, its last three digits varied), so no range or country reaches its floor.
An attacker answered 422 captcha-required gives up that request, unless a captcha farm
solves it (CAMPAIGN_ATTACKER_SOLVES, the fraction solved; default 0). Real users, from
their own addresses, register with a mobile number (a third of them in the attacked
countries but other ranges), solve the challenge when asked, read the code the fake
Twilio received and verify it.

Prints, per phase, what reached the attacker's numbers and its target, how many real
users verified and met a challenge, every request of a real user that was refused, and
PASS or MISS per phase and overall.
"""

import itertools
import json
import math
import os
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
ORACLE = os.path.join(os.path.dirname(__file__), "../crates/api/tests/data/phone_oracle.tsv")
PUMPERS = int(os.environ.get("CAMPAIGN_PUMPERS") or ATTACKERS)
PUMP_NETS = int(os.environ.get("CAMPAIGN_PUMP_NETS") or 400)
SOLVES = float(os.environ.get("CAMPAIGN_ATTACKER_SOLVES") or 0)
CAPTCHA = os.environ.get("CAMPAIGN_CAPTCHA", "turnstile")
# The server's settings the targets are worked out from (campaign.sh passes what it set).
BUDGET = int(os.environ.get("SMS_DAILY_BUDGET") or 10_000)
PREFIX_DIGITS = int(os.environ.get("SMS_FRAUD_PREFIX_DIGITS") or 3)
CEILING_SET = os.environ.get("SMS_FRAUD_GLOBAL_UNVERIFIED")
CEILING = int(CEILING_SET) if CEILING_SET else math.ceil(BUDGET / 5)
PASSWORD = "campaign password 1"
RUN = random.randrange(16**6)

ATTACKED = ["+4474001", "+614120", "+1415523"]  # +44740, +61412, +1415
# Real users: other ranges of the attacked countries, and other countries.
REAL_PATTERNS = ["+4471234", "+614330", "+1650253", "+336120", "+346120", "+4670123"]


def number(prefix, n):
    digits = {"+44": 13, "+61": 12, "+1": 12, "+33": 12, "+34": 12, "+46": 12}
    total = next(v for k, v in digits.items() if prefix.startswith(k))
    return prefix + str(n).zfill(total - len(prefix))[-(total - len(prefix)):]


def call(method, path, client, body=None, token=None, captcha=None):
    req = urllib.request.Request(BASE + path, method=method)
    req.add_header("X-Forwarded-For", client)
    if body is not None:
        req.data = json.dumps(body).encode()
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    if captcha:
        req.add_header("X-Captcha-Token", captcha)
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
details = {}           # (who, status, problem type) -> the first refusal's detail
real_refusals = []     # (number, status, body) of real users
sent_to = {"AB": set(), "C": set()}  # numbers each attacker phase asked a code for
challenges = {}        # who -> [asked, solved]


def tally(who, status, body):
    kind = (body or {}).get("type", "") if isinstance(body, dict) else ""
    key = (who, status, kind.rsplit("/", 1)[-1])
    with lock:
        outcomes[key] = outcomes.get(key, 0) + 1
        if status >= 400 and isinstance(body, dict):
            details.setdefault(key, body.get("detail", ""))


def is_challenge(status, body):
    return status == 422 and isinstance(body, dict) and body.get("type", "").endswith("/captcha-required")


def attempt(who, solves, method, path, client, body, token=None):
    """One request that may send a code; on a challenge, solved with probability `solves`."""
    status, answer = call(method, path, client, body, token)
    tally(who, status, answer)
    if not is_challenge(status, answer):
        return status, answer
    solved = random.random() < solves
    with lock:
        met = challenges.setdefault(who, [0, 0])
        met[0] += 1
        met[1] += solved
    if not solved:
        return status, answer
    status, answer = call(method, path, client, body, token, captcha=f"pass-{random.getrandbits(64):x}")
    tally(who, status, answer)
    return status, answer


def pump(who, phase, i, numbers, client):
    """One attacker account: register with numbers[0], swap through the rest."""
    with lock:
        sent_to[phase].add(numbers[0])
    status, body = attempt(who, SOLVES, "POST", "/api/v1/auth/register", client(), {
        "email": f"pump{who[-1]}{i}-{RUN}@example.com", "password": PASSWORD,
        "full_name": "Pump", "phone_number": numbers[0]})
    if status != 201:
        return
    token, phone_id = body["access_token"], body["user"]["phone"]["id"]
    for e164 in numbers[1:]:
        with lock:
            sent_to[phase].add(e164)
        attempt(who, SOLVES, "PATCH", f"/api/v1/users/me/phone-numbers/{phone_id}", client(),
                {"phone_number": e164}, token)


def narrow_attacker(i, phase):
    if phase == "A":
        def client():
            return f"2001:db8:66:1:{random.randrange(65536):x}:{random.randrange(65536):x}::{i:x}"
    else:
        fixed = f"100.{64 + i // 250}.{i % 250}.{random.randrange(1, 250)}"
        def client():
            return fixed
    rng = ATTACKED[i % 3]
    pump(f"attacker {phase}", "AB", i, [number(rng, i * 10 + k) for k in range(10)], client)


class Pumper:
    """Phase C: hands out numbers round-robin over the ranges and /64s round-robin."""

    def __init__(self, ranges):
        self.ranges = ranges      # [(range, country, example e164)]
        self.claims = itertools.count()
        self.requests = itertools.count()

    def next_number(self):
        j = next(self.claims)
        _, _, example = self.ranges[j % len(self.ranges)]
        return example[:-3] + f"{(j // len(self.ranges) * 7 + 101) % 1000:03d}"

    def client(self):
        # Spread over the /48's 256 /56s first: each /56 has a limit of its own.
        net = next(self.requests) % PUMP_NETS
        tail = ":".join(f"{random.randrange(65536):x}" for _ in range(4))
        return f"2001:db8:77:{(net % 256) << 8 | net // 256:x}:{tail}"

    def account(self, i):
        pump("attacker C", "C", i, [self.next_number() for _ in range(10)], self.client)


def pump_ranges():
    """Every region's mobile example the server would text, one per guard range."""
    ranges = {}
    with open(ORACLE, encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t") for line in f if not line.startswith("#")]
    examples = [r for r in rows[1:] if r[0] == "example" and r[3] == "1" and r[5] == "mobile"]
    for k, (_, region, _, _, e164, _) in enumerate(examples):
        sample = e164[:-3] + "101"
        # Another client per lookup: the parse endpoint is limited per client.
        status, body = call("GET", "/api/v1/phone-numbers/parse?number=" + urllib.parse.quote(sample),
                            f"198.18.{k // 200}.{k % 200 + 1}")
        if status != 200 or not body.get("sms_capable") or body.get("e164") != sample:
            continue
        calling_code = body["international"].split()[0].lstrip("+")
        national = sample[1 + len(calling_code):]
        guard_range = f"+{calling_code}{national[:PREFIX_DIGITS]}"
        ranges.setdefault(guard_range, (guard_range, body["country"], e164))
    return list(ranges.values())


def fake_messages():
    with urllib.request.urlopen(FAKE + "/_fake/messages", timeout=30) as r:
        return json.loads(r.read())["messages"]


def real_user(i):
    # Each in a /24 of its own, as people are: the §11 limits per IPv4 /24 would refuse
    # a 161st sign-up from one /24 within the hour.
    client = f"{11 + i // 250}.{i % 250}.{random.randrange(256)}.{random.randrange(1, 255)}"
    e164 = number(REAL_PATTERNS[i % len(REAL_PATTERNS)], 1000 + i)
    status, body = attempt("real", 1.0, "POST", "/api/v1/auth/register", client, {
        "email": f"real{i}-{RUN}@example.com", "password": PASSWORD,
        "full_name": "Real Person", "phone_number": e164})
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


def check_patterns():
    for pattern in ATTACKED + REAL_PATTERNS:
        sample = number(pattern, 4242)
        status, body = call("GET", "/api/v1/phone-numbers/parse?number=" + urllib.parse.quote(sample),
                            "192.0.2.200")
        if status != 200 or not body.get("sms_capable"):
            sys.exit(f"campaign: {sample} is not an SMS-capable number to this server: {body}")


def run(pumper):
    with ThreadPoolExecutor(max_workers=12) as pool:
        jobs = []
        # Interleave: attack waves and real users arrive together.
        for i in range(max(ATTACKERS, REAL, PUMPERS)):
            if i < ATTACKERS:
                jobs.append(pool.submit(narrow_attacker, i, "A"))
                jobs.append(pool.submit(narrow_attacker, i, "B"))
            if i < PUMPERS:
                jobs.append(pool.submit(pumper.account, i))
            if i < REAL:
                jobs.append(pool.submit(real_user, i))
        return [j.result() for j in jobs]


def settled_messages():
    """Lets the outbox hand over all it holds: waits until the fake's count stops growing."""
    messages, stable_since, deadline = fake_messages(), time.time(), time.time() + 90
    while time.time() - stable_since < 5 and time.time() < deadline:
        time.sleep(0.5)
        now = fake_messages()
        if len(now) != len(messages):
            messages, stable_since = now, time.time()
    return messages


def verdict(ok):
    return "PASS" if ok else "MISS"


def report(ranges, verified, elapsed, messages):
    ab = sum(1 for m in messages if m["to"] in sent_to["AB"])
    c = sum(1 for m in messages if m["to"] in sent_to["C"] and m["to"] not in sent_to["AB"])
    countries = len({country for _, country, _ in ranges})
    target_c = 60 + CEILING
    ceiling_from = ("SMS_FRAUD_GLOBAL_UNVERIFIED" if CEILING_SET
                    else f"SMS_FRAUD_GLOBAL_UNVERIFIED, 20 % of SMS_DAILY_BUDGET {BUDGET}")
    met = challenges.get("real", [0, 0])[0]
    print(f"campaign: {2 * ATTACKERS} narrow attacker accounts (A: one IPv6 /64, B: {ATTACKERS} IPv4 "
          f"addresses; 3 ranges), {PUMPERS} distributed (C: {PUMP_NETS} /64s of one /48, "
          f"{len(ranges)} ranges in {countries} countries), 9 swaps each; {REAL} real users; "
          f"bot challenge: {CAPTCHA}; captcha farm solves {SOLVES:.0%}; {elapsed:.1f} s")
    for who in ("attacker A", "attacker B", "attacker C"):
        asked, solved = challenges.get(who, [0, 0])
        print(f"{who}: challenged {asked} times, solved {solved}")
    ok_ab = ab <= 60
    print(f"phases A+B: SMS reaching their numbers: {ab} (target <= 60): {verdict(ok_ab)}")
    ok_c = ab + c <= target_c
    print(f"phase C: SMS reaching its numbers: {c}; all attackers: {ab + c} "
          f"(target <= 60 + {CEILING} ({ceiling_from}) = {target_c}): {verdict(ok_c)}")
    ok_real = verified >= 0.99 * REAL and not real_refusals
    print(f"real users verified: {verified}/{REAL} ({100.0 * verified / REAL:.1f} %, target >= 99 %); "
          f"met a bot challenge: {met}; requests refused: {len(real_refusals)} (target 0): "
          f"{verdict(ok_real)}")
    for e164, status, body in real_refusals[:10]:
        print(f"  {e164[:6]}…: {status} {json.dumps(body)[:200] if body else ''}")
    print("answers by who, status and problem type:")
    for (who, status, kind), n in sorted(outcomes.items()):
        print(f"  {who:10} {status} {kind or '-':20} {n:5}  {details.get((who, status, kind), '')[:70]}")
    return ok_ab and ok_c and ok_real


def main():
    check_patterns()
    ranges = pump_ranges()
    if len(ranges) < 100:
        sys.exit(f"campaign: only {len(ranges)} ranges this server would text; need hundreds")
    started = time.time()
    results = run(Pumper(ranges))
    elapsed = time.time() - started
    verified = sum(1 for r in results if r is True)
    ok = report(ranges, verified, elapsed, settled_messages())
    print(f"campaign: {verdict(ok)}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
