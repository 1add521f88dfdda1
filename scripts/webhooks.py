#!/usr/bin/env python3
"""Outbound webhooks end to end (driven by scripts/webhooks.sh; SPEC §12, issue 20).

A receiver on loopback verifies every delivery with the `standardwebhooks` package (the
Standard Webhooks reference library, not PhoneReg's code) and records it. Then:

  events    N sign-ups, verifications and number changes: every audit event of the
            subscribed types arrives exactly once (by its audit id), verified, in order
            per endpoint; a `phone.*` endpoint gets only phone events
  crash     the API killed -9 while the receiver holds a delivery, the receiver down for
            OUTAGE seconds, the API started again: 0 events lost, every duplicate with
            the same webhook-id
  lag       end-to-end lag (event timestamp -> receiver) p50/p99
  support   the three support cases through the API alone

Only the standard library plus `standardwebhooks`.
"""

import argparse
import http.server
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime

from standardwebhooks.webhooks import Webhook

PASSWORD = "webhook demo password 1"
JWT = "webhooks-jwt-secret-webhooks-jwt-secret-01"
OPS = "webhook-demo-operator-token-0123456789abc"
CODE = "123456"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(method, url, body=None, token=None, timeout=30):
    req = urllib.request.Request(url, method=method)
    if body is not None:
        req.data = json.dumps(body).encode()
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
            return r.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, None
    except (urllib.error.URLError, ConnectionError, socket.timeout, OSError):
        return 0, None


def wait_until(done, what, timeout=60, step=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if done():
            return
        time.sleep(step)
    raise SystemExit(f"FAILED: timed out waiting until {what}")


def percentile(values, p):
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


class Receiver:
    """Records every POST per path (one path per endpoint), after verifying it."""

    def __init__(self):
        self.port = free_port()
        self.secrets = {}
        self.got = {}
        self.bad = []
        self.hold = 0.0
        self.lock = threading.Lock()
        self.server = None
        self.start()

    def url(self, name):
        return f"http://127.0.0.1:{self.port}/{name}"

    def start(self):
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                arrived = time.time()
                name = self.path.strip("/")
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    Webhook(receiver.secrets[name]).verify(body, headers)
                    ok = True
                except Exception as e:  # any verification failure is recorded
                    ok = False
                    receiver.bad.append((name, str(e)))
                if receiver.hold:
                    time.sleep(receiver.hold)
                with receiver.lock:
                    receiver.got.setdefault(name, []).append(
                        {"id": headers["webhook-id"], "body": json.loads(body), "ok": ok,
                         "arrived": arrived})
                self.send_response(204 if ok else 400)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def items(self, name):
        with self.lock:
            return list(self.got.get(name, []))


class Api:
    def __init__(self, binary, work, database, port=None):
        os.makedirs(os.path.join(work, "no-spa"), exist_ok=True)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "DATABASE_URL": database,
            "BIND": f"127.0.0.1:{self.port}",
            "PUBLIC_URL": self.url,
            "JWT_SECRET": JWT,
            "DATA_DIR": os.path.join(work, "data"),
            "STATIC_DIR": os.path.join(work, "no-spa"),
            "RUST_LOG": "warn",
            "NO_COLOR": "1",
            "SMS_PROVIDER": "console",
            "ADMIN_TOKENS": f"ops:{OPS}",
            "REGISTER_PER_IP_PER_HOUR": "1000000",
            "SMS_PER_IP_PER_HOUR": "1000000",
            "SMS_DAILY_BUDGET": "1000000",
            "SMS_FRAUD_GUARD": "off",
            "VERIFY_RESEND_COOLDOWN": "0",
            "SMS_TEST_NUMBERS": os.environ["WEBHOOKS_TEST_NUMBERS"],
        }
        self.binary, self.log_path = binary, os.path.join(work, f"api-{self.port}.log")
        self.start()

    def start(self):
        self.proc = subprocess.Popen([self.binary], env=self.env, stdout=subprocess.DEVNULL,
                                     stderr=open(self.log_path, "a"))
        wait_until(lambda: call("GET", self.url + "/healthz", timeout=2)[0] == 200, "the API answers")

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait()

    def api(self, method, path, body=None, token=None):
        return call(method, self.url + "/api/v1" + path, body, token)

    def admin(self, method, path, body=None):
        return self.api(method, "/admin" + path, body, OPS)


def number(i):
    return f"+1415555{2000 + i:04d}"


def endpoint(api, rx, name, types):
    status, body = api.admin("POST", "/webhooks", {"url": rx.url(name), "event_types": types})
    assert status == 201, (status, body)
    rx.secrets[name] = body["secret"]
    return body["id"]


def journey(api, i, tag):
    """Sign up, add and verify a number, change it and verify the new one."""
    s, b = api.api("POST", "/auth/register", {"email": f"{tag}{i}@example.com",
                                              "password": PASSWORD, "full_name": "Hook"})
    assert s == 201, (s, b)
    token = b["access_token"]
    s, b = api.api("POST", "/users/me/phone-numbers", {"phone_number": number(2 * i)}, token)
    assert s == 201, (s, b)
    pid = b["id"]
    s, b = api.api("POST", f"/users/me/phone-numbers/{pid}/verify", {"code": CODE}, token)
    assert s == 200, (s, b)
    s, b = api.api("PATCH", f"/users/me/phone-numbers/{pid}",
                   {"phone_number": number(2 * i + 1), "current_password": PASSWORD}, token)
    assert s == 200, (s, b)
    s, b = api.api("POST", f"/users/me/phone-numbers/{pid}/verify", {"code": CODE}, token)
    assert s == 200, (s, b)


SUBSCRIBED = ("auth.registered", "phone.added", "phone.verified", "phone.verify_failed",
              "phone.change_requested", "phone.changed", "phone.removed")


def audit_ids(api, kinds):
    """Every audit event of `kinds`, oldest first (by id)."""
    ids = []
    for kind in kinds:
        cursor = None
        while True:
            q = f"/audit-events?type={kind}&limit=100" + (f"&cursor={cursor}" if cursor else "")
            s, b = api.admin("GET", q)
            assert s == 200, (s, b)
            ids += [(e["id"], e["type"]) for e in b["items"]]
            cursor = b.get("next_cursor")
            if not cursor:
                break
    return sorted(ids)


def check(rx, name, expected, label):
    """Exactly the expected audit events, each verified, in order; duplicates share ids."""
    items = rx.items(name)
    first = {}
    for it in items:
        aid = it["body"]["data"].get("audit_event_id")
        if aid in first:
            assert first[aid]["id"] == it["id"], f"{label}: a duplicate with a new webhook-id"
        else:
            first[aid] = it
    unique = [first[a] for a in first]
    got = [(it["body"]["data"]["audit_event_id"], it["body"]["type"]) for it in unique]
    order = [it["body"]["data"]["audit_event_id"] for it in unique]
    lost = len(set(expected) - set(got))
    extra = len(set(got) - set(expected))
    verified = sum(1 for it in items if it["ok"])
    print(f"  {label}: {len(expected)} expected, {len(unique)} received once or more, "
          f"{lost} lost, {extra} unexpected, {len(items) - len(unique)} duplicates "
          f"(same webhook-id), {verified}/{len(items)} signatures verified, "
          f"in order: {order == sorted(order)}")
    assert lost == 0 and extra == 0 and verified == len(items) and order == sorted(order), label
    return unique


def lag_ms(items):
    out = []
    for it in items:
        ts = datetime.fromisoformat(it["body"]["timestamp"].replace("Z", "+00:00")).timestamp()
        out.append((it["arrived"] - ts) * 1000)
    return out


def events_and_lag(api, rx, n, label):
    everything = endpoint(api, rx, f"all-{label}", list(SUBSCRIBED))
    phones = endpoint(api, rx, f"phones-{label}", ["phone.*"])
    started = time.monotonic()
    for i in range(n):
        journey(api, i, f"{label}-")
    took = time.monotonic() - started
    expected = audit_ids(api, SUBSCRIBED)
    wait_until(lambda: len(rx.items(f"all-{label}")) >= len(expected), "all events arrive", 120)
    phone_expected = [e for e in expected if e[1].startswith("phone.")]
    wait_until(lambda: len(rx.items(f"phones-{label}")) >= len(phone_expected), "phone events arrive", 120)
    print(f"  {n} journeys (sign-up, add, verify, change, verify) in {took:.1f} s")
    items = check(rx, f"all-{label}", expected, f"endpoint `{'|'.join(SUBSCRIBED[:2])}|…` ({label})")
    check(rx, f"phones-{label}", phone_expected, f"endpoint `phone.*` ({label})")
    lags = lag_ms(items)
    print(f"  lag {label}: p50 {percentile(lags, 50):.0f} ms, p99 {percentile(lags, 99):.0f} ms "
          f"over {len(lags)} events")
    for eid in (everything, phones):
        api.admin("DELETE", f"/webhooks/{eid}")


def crash(api, rx, n, outage):
    """kill -9 mid-delivery, the receiver down for `outage` s, then back: nothing lost."""
    before = {e[0] for e in audit_ids(api, SUBSCRIBED)}
    endpoint(api, rx, "crash", list(SUBSCRIBED))
    rx.hold = 2.0  # each delivery takes 2 s to answer, so the kill lands mid-delivery
    for i in range(n):
        journey(api, 1000 + i, "crash-")
    wait_until(lambda: len(rx.items("crash")) >= 1, "a delivery is in flight", 30)
    time.sleep(1.0)
    api.kill9()
    print(f"  API killed -9 with a delivery in flight ({len(rx.items('crash'))} answered before)")
    rx.stop()
    down = time.monotonic()
    api.start()
    expected = [e for e in audit_ids(api, SUBSCRIBED) if e[0] not in before]
    time.sleep(max(0.0, outage - (time.monotonic() - down)))
    rx.hold = 0.0
    rx.start()
    back = time.monotonic()
    print(f"  receiver down {outage} s, then back; the retries come at 5 s, then 5 min (±10 %)")
    wait_until(lambda: len({it["body"]["data"]["audit_event_id"] for it in rx.items("crash")})
               >= len(expected), "every event arrives after the outage", 480, 1)
    print(f"  all {len(expected)} events in {time.monotonic() - back:.0f} s after the receiver came back")
    check(rx, "crash", expected, "kill -9 + receiver outage")


def support_cases(api):
    print("  \"I never got the code\"")
    s, b = api.api("POST", "/auth/register", {"email": "nocode@example.com", "password": PASSWORD,
                                              "full_name": "No Code"})
    token = b["access_token"]
    s, b = api.api("POST", "/users/me/phone-numbers", {"phone_number": "+12065550103"}, token)
    time.sleep(2)
    s, found = api.admin("GET", "/users?phone=%2B12065550103")
    uid = found["items"][0]["id"]
    s, detail = api.admin("GET", f"/users/{uid}")
    for m in detail["messages"][:3]:
        print(f"    message {m['id']}: {m['kind']} {m['status']} error {m['error_code']}: {m['guidance']}")
    for lim in detail["limits"][:3]:
        print(f"    limit {lim}")
    print("  \"I lost my phone and two-step sign-in is on\"")
    s, b = api.api("POST", "/auth/register", {"email": "lost@example.com", "password": PASSWORD,
                                              "full_name": "Lost Phone"})
    token = b["access_token"]
    s, b = api.api("POST", "/users/me/phone-numbers", {"phone_number": number(900)}, token)
    api.api("POST", f"/users/me/phone-numbers/{b['id']}/verify", {"code": CODE}, token)
    s, b = api.api("PUT", "/users/me/two-factor", {"enabled": True, "password": PASSWORD}, token)
    print(f"    the user turned two-step on: {s} enabled={b and b.get('enabled')}")
    s, found = api.admin("GET", "/users?email=lost%40example.com")
    uid = found["items"][0]["id"]
    s, b = api.admin("PUT", f"/users/{uid}/two-factor",
                     {"enabled": False, "reason": "ticket 1: ID checked by video call"})
    print(f"    PUT /admin/users/{uid}/two-factor -> {s} {b}")
    s, b = api.api("POST", "/auth/login", {"email": "lost@example.com", "password": PASSWORD})
    print(f"    the user signs in with the password alone: {s}, token: {bool(b and b.get('access_token'))}")
    print("  \"My number is on someone else's account\"")
    taken = number(901)
    s, b = api.api("POST", "/auth/register", {"email": "old@example.com", "password": PASSWORD,
                                              "full_name": "Old Owner"})
    old = b["access_token"]
    s, b = api.api("POST", "/users/me/phone-numbers", {"phone_number": taken}, old)
    api.api("POST", f"/users/me/phone-numbers/{b['id']}/verify", {"code": CODE}, old)
    s, b = api.api("POST", "/auth/register", {"email": "new@example.com", "password": PASSWORD,
                                              "full_name": "New Owner"})
    new = b["access_token"]
    s, b = api.api("POST", "/users/me/phone-numbers", {"phone_number": taken}, new)
    pid = b["id"] if s == 201 else None
    s2, b2 = (api.api("POST", f"/users/me/phone-numbers/{pid}/verify", {"code": CODE}, new)
              if pid else (s, b))
    print(f"    the new holder tries to verify it: {s2} {b2.get('title') if b2 else ''}")
    s, found = api.admin("GET", f"/users?phone={taken.replace('+', '%2B')}")
    uid = found["items"][0]["id"]
    s, _ = api.admin("POST", f"/users/{uid}/phone/release",
                     {"reason": "ticket 2: recycled number, carrier letter checked"})
    print(f"    POST /admin/users/{uid}/phone/release -> {s}")
    if pid is None:
        s, b = api.api("POST", "/users/me/phone-numbers", {"phone_number": taken}, new)
        pid = b["id"]
    else:
        api.api("POST", f"/users/me/phone-numbers/{pid}/verification", None, new)
    s, b = api.api("POST", f"/users/me/phone-numbers/{pid}/verify", {"code": CODE}, new)
    print(f"    the new holder verifies it: {s} {b and b.get('status')}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--api", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--postgres")
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--outage", type=int, default=60)
    args = ap.parse_args()
    numbers = [number(i) for i in range(2 * args.n)] + [number(2 * (1000 + i) + k)
                                                        for i in range(args.n) for k in (0, 1)]
    numbers += [number(900), number(901)]
    os.environ["WEBHOOKS_TEST_NUMBERS"] = ",".join(f"{n}={CODE}" for n in numbers)
    os.makedirs(os.path.join(args.work, "no-spa"), exist_ok=True)
    rx = Receiver()
    databases = [("SQLite", "sqlite://" + os.path.join(args.work, "hooks.db"))]
    if args.postgres:
        databases.append(("PostgreSQL", args.postgres))
    for label, url in databases:
        print(f"\n== {label}")
        api = Api(args.api, os.path.join(args.work, label.lower()), url)
        try:
            events_and_lag(api, rx, args.n, label)
            if label == "SQLite":
                crash(api, rx, max(5, args.n // 5), args.outage)
                support_cases(api)
        finally:
            api.stop()
    print("\nsignature failures:", len(rx.bad), rx.bad[:3])
    assert not rx.bad


if __name__ == "__main__":
    main()
