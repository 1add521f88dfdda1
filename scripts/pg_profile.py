#!/usr/bin/env python3
"""Counts what each API request costs PostgreSQL (scripts/pg-profile.sh runs it).

For each flow it resets pg_stat_statements, sends N requests one after another (so the
counts do not depend on the machine's load), waits for the outbox to hand the SMS over,
and reads what changed: round trips (top-level statements) and the statements
PostgreSQL ran inside them (foreign-key checks), write transactions (transaction ids
taken), rows written (by INSERT, UPDATE and DELETE) and WAL bytes (the cluster is the
script's own). The SMS courier's work for the flow (claiming, recording the provider's
answer, its events) is counted with it; a small background (the courier's idle poll,
the stream watcher), measured alone first, is taken off.

usage: pg_profile.py --base URL --fake URL --psql "psql args" --db NAME --n N
                     --send FILE --records FILE --signin FILE --login-email E
                     --password P --reader-token T [--top K] [--markdown OUT]
"""

import argparse
import http.client
import json
import re
import shlex
import subprocess
import sys
import time
import urllib.parse
import urllib.request

CODE = re.compile(r"\b(\d{6})\b")


class Api:
    """One keep-alive connection to the server; every answer must have its status."""

    def __init__(self, base):
        url = urllib.parse.urlsplit(base)
        self.host, self.port = url.hostname, url.port
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)

    def call(self, method, path, expected, body=None, token=None):
        # A JSON type on an empty body is a malformed request: no type without a body.
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = json.dumps(body) if body is not None else None
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=data, headers=headers)
                resp = self.conn.getresponse()
                text = resp.read()
                break
            except (http.client.HTTPException, ConnectionError):
                # The server closed an idle keep-alive connection: open a new one once.
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
                if attempt:
                    raise
        if resp.status != expected:
            sys.exit(f"{method} {path} answered {resp.status}, expected {expected}: {text[:300]!r}")
        return text


class Stats:
    """Reads the counters from the cluster's `postgres` database as its superuser, so the
    reads themselves are never counted in the API's database."""

    def __init__(self, psql, db):
        self.psql = shlex.split(psql)
        self.db = db

    def sql(self, query):
        out = subprocess.run(
            self.psql + ["-X", "-q", "-tA", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-d", "postgres", "-c", query],
            check=True, capture_output=True, text=True,
        ).stdout
        return [line.split("\t") for line in out.splitlines() if line]

    def counters(self):
        """Exact at once, unlike pg_stat_database and pg_stat_wal, which backends report
        up to a second late: the next transaction id (a write transaction takes one) and
        the WAL position (bytes written; the cluster is this script's alone)."""
        xid, lsn = self.sql(
            "SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint, "
            "pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint"
        )[0]
        return {"xids": int(xid), "wal_bytes": int(lsn)}

    def reset(self):
        self.sql("SELECT pg_stat_statements_reset()")

    def statements(self):
        """(calls, total ms, rows, top level, query) of the API's statements since the
        reset. Top level: sent by the server (a round trip each); the others ran inside
        one (the foreign-key checks PostgreSQL runs for an insert, for example)."""
        rows = self.sql(
            "SELECT s.calls, round(s.total_exec_time::numeric, 3), s.rows, s.toplevel, "
            "regexp_replace(s.query, '\\s+', ' ', 'g') "
            "FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid "
            f"WHERE d.datname = '{self.db}' ORDER BY s.calls DESC"
        )
        return [(int(c), float(t), int(r), top == "t", q) for c, t, r, top, q in rows]


def fake_messages(fake):
    with urllib.request.urlopen(f"{fake}/_fake/messages") as r:
        return json.load(r)["messages"]


def wait_fake(fake, want, seconds=60):
    """Waits until the fake Twilio holds `want` messages; returns them."""
    deadline = time.time() + seconds
    while True:
        messages = fake_messages(fake)
        if len(messages) >= want or time.time() > deadline:
            return messages
        time.sleep(0.2)


def codes_by_number(messages):
    codes = {}
    for m in messages:
        found = CODE.search(m["body"])
        if found:
            codes[m["to"]] = found.group(1)
    return codes


def read_lines(path, n):
    with open(path) as f:
        rows = [line.split() for line in f if line.strip()]
    if len(rows) < n:
        sys.exit(f"{path} has {len(rows)} lines, {n} needed")
    return rows[:n]


def main():
    p = argparse.ArgumentParser()
    for name in ["base", "fake", "psql", "db", "send", "records", "signin", "login_email", "password", "reader_token"]:
        p.add_argument("--" + name.replace("_", "-"), dest=name, required=True)
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--top", type=int, default=8)
    p.add_argument("--markdown")
    args = p.parse_args()

    api = Api(args.base)
    stats = Stats(args.psql, args.db)
    n = args.n
    send = read_lines(args.send, n)              # token phone_id
    records = read_lines(args.records, n)        # phone_id user_id e164
    signin = read_lines(args.signin, n)          # phone_id user_id e164 (verified)
    e164_of = {phone_id: e164 for phone_id, _, e164 in records}

    results = []

    def measure(name, label, run, drain=None):
        stats.reset()
        before = stats.counters()
        t0 = time.time()
        count = run()
        if drain:
            drain()
        # Backends report their database counters within a second of going idle.
        time.sleep(1.5)
        elapsed = time.time() - t0
        after = stats.counters()
        delta = {k: after[k] - before[k] for k in after}
        statements = stats.statements()
        results.append((name, label, count, elapsed, delta, statements))
        print(f"  {name}: {count} requests measured in {elapsed:.1f} s", file=sys.stderr)

    # The background, alone: the courier's idle poll and the stream watcher.
    measure("idle", "nothing", lambda: (time.sleep(5), 0)[1])

    def me():
        for _ in range(n):
            api.call("GET", "/api/v1/users/me", 200, token=args.reader_token)
        return n

    measure("GET /users/me", "`GET /api/v1/users/me`", me)

    fake_before = len(fake_messages(args.fake))

    def send_codes():
        for token, phone_id in send:
            api.call("POST", f"/api/v1/users/me/phone-numbers/{phone_id}/verification", 202, token=token)
        return n

    sent = {}

    def drain_sends():
        messages = wait_fake(args.fake, fake_before + n)
        sent.update(codes_by_number(messages[fake_before:]))

    measure("send-code", "`POST …/phone-numbers/{id}/verification`", send_codes, drain_sends)

    def verify():
        done = 0
        for token, phone_id in send:
            code = sent.get(e164_of[phone_id])
            if code is None:
                sys.exit(f"no code reached the fake Twilio for {e164_of[phone_id]}")
            api.call("POST", f"/api/v1/users/me/phone-numbers/{phone_id}/verify", 200, {"code": code}, token)
            done += 1
        return done

    measure("verify", "`POST …/phone-numbers/{id}/verify`", verify)

    fake_before = len(fake_messages(args.fake))
    started = {}

    def starts():
        for _, _, e164 in signin:
            api.call("POST", "/api/v1/auth/sms/start", 202, {"phone_number": e164, "purpose": "sign_in"})
        return n

    def drain_starts():
        messages = wait_fake(args.fake, fake_before + n)
        started.update(codes_by_number(messages[fake_before:]))

    measure("sms start", "`POST /auth/sms/start` (sign_in)", starts, drain_starts)

    def sign_ins():
        for _, _, e164 in signin:
            code = started.get(e164)
            if code is None:
                sys.exit(f"no sign-in code reached the fake Twilio for {e164}")
            api.call("POST", "/api/v1/auth/sms/sign-in", 200, {"phone_number": e164, "code": code})
        return n

    measure("sms sign-in", "`POST /auth/sms/sign-in`", sign_ins)

    def logins():
        for _ in range(n):
            api.call("POST", "/api/v1/auth/login", 200, {"email": args.login_email, "password": args.password})
        return n

    measure("password login", "`POST /auth/login`", logins)

    report(results, args.top, args.markdown)


def report(results, top, markdown):
    """The table, less the background: the idle phase's calls per second of each
    statement (and its transactions and WAL per second) times each phase's length."""
    _, _, _, idle_seconds, idle, idle_statements = results[0]
    idle_rate = {(q, t): c / idle_seconds for c, _, _, t, q in idle_statements}
    lines = [
        "| flow | requests | round trips / req | nested statements / req "
        "| transaction ids / req | rows written / req | WAL bytes / req |",
        "|---|---|---|---|---|---|---|",
    ]
    details = []
    dml = ("INSERT", "UPDATE", "DELETE", "WITH")
    for name, label, count, elapsed, d, statements in results[1:]:
        calls = lambda c, t, q: max(0.0, c - idle_rate.get((q, t), 0) * elapsed)  # noqa: E731
        trips = sum(calls(c, t, q) for c, _, _, t, q in statements if t)
        nested = sum(calls(c, t, q) for c, _, _, t, q in statements if not t)
        written = sum(r for _, _, r, t, q in statements if t and q.upper().startswith(dml))
        less = lambda key: max(0.0, d[key] - idle[key] / idle_seconds * elapsed)  # noqa: E731
        per = lambda v: f"{v / count:.2f}"  # noqa: E731
        lines.append(
            f"| {label} | {count} | {per(trips)} | {per(nested)} | {per(less('xids'))} "
            f"| {per(written)} | {less('wal_bytes') / count:.0f} |"
        )
        details.append(f"\n### {name}: top statements by calls per request, and by total time\n")
        details.append("| calls / req | ms total | rows / call | statement |")
        details.append("|---|---|---|---|")
        ranked = sorted(statements, key=lambda s: -calls(s[0], s[3], s[4]))
        shown = [s for s in ranked[:top] if calls(s[0], s[3], s[4]) > 0]
        for s in sorted(statements, key=lambda s: -s[1])[:3]:
            if s not in shown:
                shown.append(s)
        for c, ms, rows, toplevel, query in shown:
            q = query if len(query) <= 150 else query[:147] + "…"
            q = q.replace("|", "\\|")
            mark = "" if toplevel else " (nested)"
            details.append(
                f"| {calls(c, toplevel, query) / count:.2f} | {ms:.1f} | {rows / max(c, 1):.2f} "
                f"| `{q}`{mark} |"
            )
    background = sum(c for c, _, _, _, _ in idle_statements) / idle_seconds
    text = (
        "\n".join(lines)
        + f"\n\nIdle background, measured for {idle_seconds:.0f} s first and taken off every row "
        f"by its length: {background:.1f} statements/s (the courier's poll, the stream "
        "watcher). Transaction ids: one per write transaction and one per savepoint that "
        "wrote (PostgreSQL numbers subtransactions alike); rows written: the rows of the "
        "INSERT, UPDATE and DELETE statements.\n"
        + "\n".join(details)
        + "\n"
    )
    print(text)
    if markdown:
        with open(markdown, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
