#!/usr/bin/env python3
"""SPEC §13 "Voice and WhatsApp" from outside (issue 22), driven by scripts/channels.sh.

Starts the fake Twilio and the API (Twilio provider pointed at the fake, voice and
WhatsApp on, fixed lines by voice), then, through HTTP alone:

1. the fake drops every SMS to one number; its user signs up, waits out
   CHANNEL_FALLBACK_AFTER (a real 30 s wait: the API's clock is the wall clock), asks for
   a call and verifies with the code the call said (read from the TwiML the fake kept);
2. a London landline signs up and verifies by voice;
3. a number that is not on WhatsApp gets Twilio's 63003 and the 63003 guidance;
4. on a second server with SMS_DAILY_BUDGET=6 and a fraud-guard range floor of 4, one
   SMS and one call spend the whole budget (the next claim is 503) and pause their range
   with 6 sends counted.

Prints one line per figure. Standard library only.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request

PASSWORD = "correct horse battery"
ADMIN = "operator-token-operator-token-0123456789"
DROPPED = "+14155552671"
LANDLINE = "+442079460018"
NO_WHATSAPP = "+14155552672"


def request(method, url, body=None, token=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            text = res.read().decode()
            return res.status, res.headers, json.loads(text) if text else None
    except urllib.error.HTTPError as e:
        text = e.read().decode()
        return e.code, e.headers, json.loads(text) if text else None


def expect(got, status, what):
    if got[0] != status:
        sys.exit(f"FAIL {what}: expected {status}, got {got[0]}: {got[2]}")
    return got


def free_port():
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(what, check, timeout=20.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    sys.exit(f"FAIL waiting for {what}")


class Stack:
    """The fake Twilio and one API process over `database`."""

    def __init__(self, args, database, work, name, extra_env):
        self.fake = subprocess.Popen(
            [args.fake, "0"], stdout=subprocess.PIPE, text=True,
            env={**os.environ, "TWILIO_ACCOUNT_SID": "ACchannels", "TWILIO_AUTH_TOKEN": "channels-token"},
        )
        self.fake_url = self.fake.stdout.readline().strip()
        port = free_port()
        self.api = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "DATABASE_URL": database,
            "BIND": f"127.0.0.1:{port}",
            "PUBLIC_URL": self.api,
            "DATA_DIR": f"{work}/data-{name}",
            "RUST_LOG": "warn",
            "NO_COLOR": "1",
            "SMS_PROVIDER": "twilio",
            "TWILIO_API_BASE": self.fake_url,
            "TWILIO_ACCOUNT_SID": "ACchannels",
            "TWILIO_AUTH_TOKEN": "channels-token",
            "TWILIO_FROM": "+15005550006",
            "VOICE_ENABLED": "true",
            "VOICE_FOR_LANDLINES": "true",
            "WHATSAPP_ENABLED": "true",
            "WHATSAPP_CONTENT_SID": "HX00000000000000000000000000000000",
            "SMS_PER_IP_PER_HOUR": "1000",
            "SMS_STARTS_PER_IP_PER_HOUR": "1000",
            "REGISTER_PER_IP_PER_HOUR": "1000",
            "ADMIN_TOKEN": ADMIN,
            **extra_env,
        }
        self.log = open(f"{work}/server-{name}.log", "w")
        self.proc = subprocess.Popen([args.api], env=env, stdout=self.log, stderr=self.log)
        wait_for("the API", lambda: self._ready())

    def _ready(self):
        try:
            with urllib.request.urlopen(f"{self.api}/readyz", timeout=1) as r:
                return r.status == 200
        except Exception:
            return False

    def stop(self):
        for p in (self.proc, self.fake):
            p.terminate()
            p.wait(timeout=10)
        self.log.close()

    def sent(self):
        return request("GET", f"{self.fake_url}/_fake/messages")[2]["messages"]

    def to(self, number, kind=None):
        return [m for m in self.sent() if number in m["to"] and (kind is None or m["kind"] == kind)]

    def status(self, sid, status, error_code=None):
        body = {"status": status, "error_code": error_code}
        return request("POST", f"{self.fake_url}/_fake/messages/{sid}/status", body)

    def register(self, number):
        r = expect(request("POST", f"{self.api}/api/v1/auth/register", {
            "email": f"u{time.monotonic_ns()}@example.com", "password": PASSWORD,
            "full_name": "Channels", "phone_number": number,
        }), 201, f"register {number[:5]}…")
        b = r[2]
        return b["access_token"], b["user"]["phone"]["id"], b["verification"]

    def resend(self, token, phone_id, channel):
        return request("POST", f"{self.api}/api/v1/users/me/phone-numbers/{phone_id}/verification",
                       {"channel": channel}, token)

    def verify(self, token, phone_id, code):
        return request("POST", f"{self.api}/api/v1/users/me/phone-numbers/{phone_id}/verify",
                       {"code": code}, token)

    def me(self, token):
        return request("GET", f"{self.api}/api/v1/users/me", token=token)[2]


def spoken(twiml):
    said = re.search(r"<Say[^>]*>(.*?)</Say>", twiml).group(1)
    return "".join(c for c in said if c.isdigit())


def journeys(stack, label):
    # 1. The SMS never comes; a call after CHANNEL_FALLBACK_AFTER says the same code.
    request("POST", f"{stack.fake_url}/_fake/drop", {"to": DROPPED})
    token, pid, v = stack.register(DROPPED)
    offered = {o["channel"]: o["available_at"] for o in v["channels"]}
    print(f"{label}: signup by {v['channel']}; offered {', '.join(offered)}; voice from {offered['voice']}")
    sms = wait_for("the dropped SMS", lambda: stack.to(DROPPED, "message"))
    assert sms[0]["dropped"] and sms[0]["body"] == "", sms
    early = request("POST", f"{stack.api}/api/v1/users/me/phone-numbers/{pid}/verification",
                    {"channel": "voice"}, token)
    expect(early, 429, "a call before the fallback")
    wait = int(early[1]["Retry-After"])
    print(f"{label}: call asked at once -> 429 {early[2]['type'].rsplit('/', 1)[1]}, Retry-After {wait} s; waiting")
    time.sleep(wait + 1)
    asked = time.monotonic()
    r = expect(stack.resend(token, pid, "voice"), 202, "the call")
    same = r[2]["expires_at"] == v["expires_at"]
    call = wait_for("the call", lambda: stack.to(DROPPED, "call"))[0]
    placed_ms = (time.monotonic() - asked) * 1000
    code = spoken(call["twiml"])
    expect(stack.status(call["sid"], "completed"), 200, "the call's callback")
    again = stack.resend(token, pid, "voice")
    expect(stack.verify(token, pid, code), 200, "verify with the spoken code")
    last = stack.me(token)["phone"]
    print(f"{label}: call -> 202 (same expiry: {same}), placed in {placed_ms:.0f} ms, "
          f"said twice: {call['twiml'].count('<Say') == 2}; verified with the spoken code: "
          f"{last['status'] == 'verified'}; last message {last['last_message']['channel']} "
          f"{last['last_message']['status']}")
    print(f"{label}: a second call for the same code -> {again[0]} "
          f"{again[2]['type'].rsplit('/', 1)[1]}")

    # 2. A landline: its code is said, never texted.
    token, pid, v = stack.register(LANDLINE)
    call = wait_for("the landline's call", lambda: stack.to(LANDLINE, "call"))[0]
    texts = len(stack.to(LANDLINE, "message"))
    ok = stack.verify(token, pid, spoken(call["twiml"]))[0] == 200
    print(f"{label}: landline {LANDLINE[:6]}… signup by {v['channel']} (texts sent: {texts}); verified by voice: {ok}")

    # 3. Not on WhatsApp: the SMS failed (so WhatsApp opens at once), Twilio answers 63003.
    token, pid, v = stack.register(NO_WHATSAPP)
    sms = wait_for("the SMS", lambda: stack.to(NO_WHATSAPP, "message"))[0]
    stack.status(sms["sid"], "undelivered", 30003)
    wait_for("the failure", lambda: stack.me(token)["phone"]["last_message"]["status"] == "undelivered")
    expect(stack.resend(token, pid, "whatsapp"), 202, "WhatsApp")
    wa = wait_for("the WhatsApp message", lambda: [m for m in stack.to(NO_WHATSAPP, "message") if m["to"].startswith("whatsapp:")])[0]
    stack.status(wa["sid"], "undelivered", 63003)
    last = wait_for("the 63003", lambda: (lambda m: m if m["error_code"] == 63003 else None)(stack.me(token)["phone"]["last_message"]))
    print(f"{label}: WhatsApp to {wa['to'][:12]}… template {wa['content_sid'][:6]}… -> "
          f"{last['status']} {last['error_code']}: \"{last['guidance']}\"")


def costs(stack, label):
    # 4. One SMS (1 unit) and one call (VOICE_BUDGET_WEIGHT 5) spend SMS_DAILY_BUDGET=6,
    # and the guard counts them as 6 sends to the range.
    token, pid, v = stack.register("+447400100001")
    sms = wait_for("the SMS", lambda: stack.to("+447400100001", "message"))[0]
    stack.status(sms["sid"], "undelivered", 30003)
    wait_for("the failure", lambda: stack.me(token)["phone"]["last_message"]["status"] == "undelivered")
    expect(stack.resend(token, pid, "voice"), 202, "the call")
    nxt = request("POST", f"{stack.api}/api/v1/auth/register", {
        "email": "next@example.com", "password": PASSWORD, "full_name": "N",
        "phone_number": "+14155550123"})
    pauses = request("GET", f"{stack.api}/api/v1/admin/sms/pauses", token=ADMIN)[2]["items"]
    sent = [p["sent"] for p in pauses]
    print(f"{label}: budget 6 = SMS 1 + call 5; next claim -> {nxt[0]}; "
          f"guard pauses {[p['key'] for p in pauses]} with sent {sent} (floor 4)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--api", required=True)
    ap.add_argument("--fake", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--database", action="append", required=True,
                    help="label|URL for the journeys|URL for the costs")
    args = ap.parse_args()
    for spec in args.database:
        label, url, costs_url = spec.split("|")
        stack = Stack(args, url, args.work, f"{label}-journeys", {})
        try:
            journeys(stack, label)
        finally:
            stack.stop()
        stack = Stack(args, costs_url, args.work, f"{label}-costs", {
            "SMS_DAILY_BUDGET": "6", "SMS_BUDGET_RESERVE": "0", "SMS_FRAUD_RANGE_FLOOR": "4",
            # The global ceiling defaults to a fifth of the budget: out of the way here.
            "SMS_FRAUD_GLOBAL_UNVERIFIED": "1000",
        })
        try:
            costs(stack, label)
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
