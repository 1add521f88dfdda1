#!/usr/bin/env python3
"""The six attacks of issue 17, replayed from outside against a running server (see
scripts/attacks.sh, which starts a fresh server for each). Python stdlib only; it knows
only SPEC.md: HTTP on the API's base URL, codes read from the development inbox.

The server runs behind TRUSTED_PROXIES=127.0.0.1, so every request names its client in
X-Forwarded-For: strangers come from the documentation ranges (203.0.113.0/24,
198.51.100.0/24, 2001:db8::/32), each request from a new address, so that per-IP limits
behave as they would for many clients; owners and real users come from 192.0.2.0/24.
The development inbox is read without X-Forwarded-For (it answers loopback peers only).

Prints ONE line for the attack, ending in `held` (the attack failed) or `MISS` (it
worked). Exit status: 0 when the line was printed (held or MISS), 2 when this client
itself broke (a setup step answered something no version of the API should).

usage: attacks.py BASE_URL ATTACK_NUMBER
"""
import http.client, json, re, statistics, sys, time
from urllib.parse import urlparse

BASE = urlparse(sys.argv[1])
ATTACK = int(sys.argv[2])
PASSWORD = "owner passphrase 1"
ATTACKER_PASSWORD = "attacker passphrase 9"


class Broken(Exception):
    """The client could not run the attack (not a verdict)."""


def call(method, path, body=None, ip=None, token=None):
    """One request on a new connection. Returns (status, json-or-text, seconds)."""
    conn = http.client.HTTPConnection(BASE.hostname, BASE.port, timeout=60)
    headers = {}
    if body is not None:
        headers["Content-Type"] = "application/json"
    if ip:
        headers["X-Forwarded-For"] = ip
    if token:
        headers["Authorization"] = "Bearer " + token
    started = time.perf_counter()
    conn.request(method, "/api/v1" + path, json.dumps(body) if body is not None else None, headers)
    r = conn.getresponse()
    data = r.read()
    took = time.perf_counter() - started
    conn.close()
    try:
        parsed = json.loads(data) if data else None
    except ValueError:
        parsed = data.decode(errors="replace")
    return r.status, parsed, took


def problem(body):
    """The last segment of a problem `type`, or ''."""
    if isinstance(body, dict) and isinstance(body.get("type"), str):
        return body["type"].rsplit("/", 1)[-1]
    return ""


def said(status, body):
    """`429 sms-range-paused`, `200 mfa_required`, `200`, …"""
    p = problem(body)
    if p and p != "about:blank":
        return f"{status} {p}"
    if isinstance(body, dict) and body.get("mfa_required"):
        return f"{status} mfa_required"
    return str(status)


# --- client addresses ----------------------------------------------------------------
_stranger = 0


def stranger():
    """A new stranger's address on every call, spread over two IPv4 /24s and many IPv6
    /48s (at most one address in three per /24)."""
    global _stranger
    i = _stranger
    _stranger += 1
    kind, n = i % 3, i // 3
    if kind == 0:
        return f"203.0.113.{1 + n % 254}"
    if kind == 1:
        return f"198.51.100.{1 + n % 254}"
    return f"2001:db8:{0x100 + n:x}::{1 + n % 250:x}"


_legit = 0


def legit():
    """A real user's address (192.0.2.0/24), a new one per call."""
    global _legit
    _legit += 1
    return f"192.0.2.{10 + _legit % 240}"


# --- the development inbox -------------------------------------------------------------
def inbox():
    s, b, _ = call("GET", "/dev/sms")  # no X-Forwarded-For: loopback peer
    if s != 200 or not isinstance(b, dict):
        raise Broken(f"dev inbox answered {s}")
    return b["items"]


def seen_now():
    return {(m["to"], m["body"], m["created_at"]) for m in inbox()}


def new_code(number, seen, wait=6.0):
    """The code of an SMS to `number` that is not in `seen` (polls: the outbox sends
    after the answer). None when none arrives within `wait` seconds."""
    deadline = time.monotonic() + wait
    while True:
        for m in inbox():  # newest first
            key = (m["to"], m["body"], m["created_at"])
            if m["to"] == number and key not in seen:
                seen.add(key)
                found = re.search(r"#(\d{6})\s*$", m["body"])
                if found:
                    return found.group(1)
        if time.monotonic() > deadline:
            return None
        time.sleep(0.1)


# --- accounts --------------------------------------------------------------------------
def expect(status, want, body, what):
    if status != want:
        raise Broken(f"{what}: {status} (want {want}) {json.dumps(body)[:300]}")


def make_owner(number, email, two_factor=True, test_code=None):
    """An account whose number is verified (and two-factor on): the victim."""
    ip = legit()
    seen = seen_now()
    s, b, _ = call("POST", "/auth/register", {
        "email": email, "password": PASSWORD, "full_name": "Owner", "phone_number": number}, ip=ip)
    expect(s, 201, b, f"register the owner {number}")
    token, phone_id = b["access_token"], b["user"]["phone"]["id"]
    code = test_code or new_code(number, seen)
    if code is None:
        raise Broken(f"no verification code reached {number}")
    s, b, _ = call("POST", f"/users/me/phone-numbers/{phone_id}/verify", {"code": code}, ip=ip, token=token)
    expect(s, 200, b, f"verify the owner's number {number}")
    if two_factor:
        s, b, _ = call("PUT", "/users/me/two-factor", {"enabled": True, "password": PASSWORD}, ip=ip, token=token)
        expect(s, 200, b, "turn two-factor on")
    return {"email": email, "number": number, "phone_id": phone_id, "token": token, "ip": ip}


def owner_login(owner, password=PASSWORD):
    """The owner's own password login from home. Returns (summary, got_code, status)."""
    seen = seen_now()
    s, b, _ = call("POST", "/auth/login", {"email": owner["email"], "password": password}, ip=owner["ip"])
    if s == 200 and isinstance(b, dict) and b.get("mfa_required"):
        code = new_code(owner["number"], seen)
        if code is None:
            return "login 200 mfa_required but no code arrived", False, s
        s2, b2, _ = call("POST", "/auth/login/verify", {"mfa_token": b["mfa_token"], "code": code}, ip=owner["ip"])
        return f"login 200 mfa_required, code arrived, login/verify {said(s2, b2)}", s2 == 200, s
    if s == 200:
        return "login 200 with tokens (no second factor asked)", False, s
    late = new_code(owner["number"], seen, wait=1.0)
    return f"login {said(s, b)}, {'a code' if late else 'no code'} arrived", False, s


def start(number, purpose, ip):
    s, b, _ = call("POST", "/auth/sms/start", {"phone_number": number, "purpose": purpose}, ip=ip)
    return s, b


def tally(statuses):
    counts = {}
    for s in statuses:
        counts[s] = counts.get(s, 0) + 1
    return " ".join(f"{k}x{v}" for k, v in sorted(counts.items()))


def verdict(ok):
    return "held" if ok else "MISS"


# --- the attacks ------------------------------------------------------------------------
def attack1():
    """SMS switched off for a country: 60 anonymous starts to unregistered numbers in four
    US area codes, then a two-factor owner in a fifth range logs in, and a new +1 212
    number signs up."""
    owner = make_owner("+14155551001", "owner1@example.com")
    statuses = []
    for area in ("646", "718", "917", "347"):
        for i in range(15):
            s, _ = start(f"+1{area}555{2000 + i:04d}", "sign_in", stranger())
            statuses.append(s)
    answered = statuses.count(202)
    outcome, got_code, _ = owner_login(owner)
    s, b, _ = call("POST", "/auth/register", {
        "email": "newcomer1@example.com", "password": PASSWORD, "full_name": "New",
        "phone_number": "+12125551001"}, ip=legit())
    return (f"{len(statuses)} anonymous starts to 4 US ranges: {answered} answered 202 ({tally(statuses)}); "
            f"owner in +1 415: {outcome}; new +1 212 signup {said(s, b)}",
            got_code and s == 201)


def attack2():
    """The daily budget burnt for free (server: SMS_DAILY_BUDGET=40): 39 anonymous
    password_reset starts to unregistered numbers, then the two-factor owner's login."""
    owner = make_owner("+14155551002", "owner2@example.com")
    statuses = []
    # 13 per range in three ranges: below the fraud guard's floor of 15, so only the
    # budget can bite.
    for area in ("646", "718", "917"):
        for i in range(13):
            s, _ = start(f"+1{area}555{3000 + i:04d}", "password_reset", stranger())
            statuses.append(s)
    outcome, got_code, _ = owner_login(owner)
    return (f"budget 40, {len(statuses)} anonymous reset starts to unregistered numbers: "
            f"{tally(statuses)}; owner: {outcome}", got_code)


def attack3():
    """The owner locked out by anyone who knows the number: four starts for the owner's
    number (sign_in and password_reset, twice, past the 30 s cool-down), then the owner's
    own password login."""
    gap = float(sys.argv[3]) if len(sys.argv) > 3 else 31.0
    owner = make_owner("+14155551003", "owner3@example.com")
    statuses = []
    for round_ in range(2):
        if round_:
            time.sleep(gap)
        for purpose in ("sign_in", "password_reset"):
            s, b = start(owner["number"], purpose, stranger())
            statuses.append(said(s, b))
    outcome, got_code, _ = owner_login(owner)
    return (f"4 strangers' starts for the owner's number ({gap:g} s apart in pairs): "
            f"{', '.join(statuses)}; owner: {outcome}", got_code)


def attack4():
    """A stolen access token becomes a takeover: with only the owner's access token,
    PATCH the verified number to the attacker's, without and with a wrong current_password;
    where a PATCH got through, verify the attacker's number and reset the password by SMS;
    then the owner's own password."""
    owner = make_owner("+14155551004", "owner4@example.com")
    # The token the attacker steals: the owner's access token from sign-up (still within
    # its 15 minutes). Not one from a fresh login: the owner's own login at the end must
    # not meet the cool-down of a login code sent seconds before.
    stolen = owner["token"]
    attacker_ip = "203.0.113.66"
    pid = owner["phone_id"]
    att1, att2 = "+16465559004", "+16465559005"
    seen = seen_now()
    s1, b1, _ = call("PATCH", f"/users/me/phone-numbers/{pid}", {"phone_number": att1}, ip=attacker_ip, token=stolen)
    no_pw_refused = (s1 == 422 and isinstance(b1, dict)
                     and "current_password" in (b1.get("errors") or {}))
    s2, b2, _ = call("PATCH", f"/users/me/phone-numbers/{pid}",
                     {"phone_number": att2, "current_password": "a wrong guess 1"}, ip=attacker_ip, token=stolen)
    wrong_pw_refused = s2 == 401 and problem(b2) == "wrong-password"
    pending = att2 if s2 == 200 else att1 if s1 == 200 else None
    chain = []
    if pending is None:
        chain.append("not possible (no PATCH got through)")
    else:
        c = new_code(pending, seen)
        s, b, _ = call("POST", f"/users/me/phone-numbers/{pid}/verify", {"code": c or "000000"},
                       ip=attacker_ip, token=stolen)
        chain.append(f"verify {said(s, b)}")
        if s == 200:
            seen = seen_now()
            s, b = start(pending, "password_reset", attacker_ip)
            c = new_code(pending, seen)
            chain.append(f"reset start {said(s, b)}{'' if c else ' (no code)'}")
            if c:
                s, b, _ = call("POST", "/auth/password-reset", {
                    "phone_number": pending, "code": c, "new_password": ATTACKER_PASSWORD}, ip=attacker_ip)
                chain.append(f"reset {said(s, b)}")
    s, b, _ = call("POST", "/auth/login", {"email": owner["email"], "password": PASSWORD}, ip=owner["ip"])
    owner_ok = s == 200
    seen = seen_now()
    s_att, b_att, _ = call("POST", "/auth/login", {"email": owner["email"], "password": ATTACKER_PASSWORD}, ip=attacker_ip)
    att_said = said(s_att, b_att)
    if pending and s_att == 200 and new_code(pending, seen, wait=3.0):
        att_said += " (its code went to the attacker's number)"
    return (f"stolen token: PATCH without current_password {said(s1, b1)}"
            f"{' (current_password field error)' if no_pw_refused else ''}, "
            f"with a wrong one {said(s2, b2)}; chain: {', '.join(chain)}; "
            f"owner's password afterwards {said(s, b)}, attacker's {att_said}",
            no_pw_refused and wrong_pw_refused and owner_ok)


def attack5():
    """A test number's fixed code brute-forced (server: SMS_TEST_NUMBERS with two numbers,
    code 123456): 400 wrong guesses through /auth/password-reset after a password_reset
    start, from one client (first number) and from many clients (second number). When a
    code is used up (attempts_remaining 0, or 410) the attacker starts again: test numbers
    skip the SMS caps and cool-downs, and the fixed code stays the same."""
    figures, ok = [], True
    for number, label, one_client in (("+15005550100", "one client", True),
                                      ("+15005550101", "many clients", False)):
        make_owner(number, f"test{number[-3:]}@example.com", two_factor=False, test_code="123456")
        ip = "203.0.113.250"  # stranger() never reaches .250 here
        s, b = start(number, "password_reset", ip if one_client else stranger())
        if s != 202:
            raise Broken(f"first reset start for {number}: {said(s, b)}")
        checked = refused = dead = other = restarts = restart_refused = 0
        guesses = 0
        n = 0
        while guesses < 400:
            n += 1
            guess = f"{(n * 7919) % 1000000:06d}"
            if guess == "123456":
                continue
            guesses += 1
            s, b, _ = call("POST", "/auth/password-reset", {
                "phone_number": number, "code": guess, "new_password": ATTACKER_PASSWORD},
                ip=ip if one_client else stranger())
            spent = False
            if s == 422 and isinstance(b, dict) and "verification" in b:
                checked += 1
                spent = b["verification"].get("attempts_remaining") == 0
            elif s == 429:
                refused += 1
            elif s == 410:
                dead += 1
                spent = True
            else:
                other += 1
            if spent and restarts < 100:
                # The code is used up: the attacker asks for a new one (same fixed code).
                rs, _ = start(number, "password_reset", ip if one_client else stranger())
                restarts += 1
                restart_refused += rs != 202
        ok = ok and checked <= 50
        extra = f", 410 {dead}" if dead else ""
        extra += f", re-started {restarts}x ({restart_refused} refused)" if restarts else ""
        extra += f", other {other}" if other else ""
        figures.append(f"{label} {number}: 400 wrong guesses, checked (422) {checked}, refused (429) {refused}{extra}")
    return "; ".join(figures) + " (want <= 50 checked per number)", ok


def shape(v):
    """The JSON's structure: keys and value types, values blanked."""
    if isinstance(v, dict):
        return {k: shape(x) for k, x in sorted(v.items())}
    if isinstance(v, list):
        return [shape(v[0])] if v else []
    return type(v).__name__


def attack6():
    """Enumeration at register: a number verified on another account vs a free number.
    Same status and shape? Then the timing class: medians of five of each, interleaved."""
    taken = [f"+1415555{6000 + i:04d}" for i in range(6)]
    free = [f"+1646555{6000 + i:04d}" for i in range(6)]
    for i, number in enumerate(taken):
        make_owner(number, f"holder{i}@example.com", two_factor=False)

    def register(number, k):
        return call("POST", "/auth/register", {
            "email": f"prober{k}@example.com", "password": PASSWORD, "full_name": "Prober",
            "phone_number": number}, ip=stranger())

    st, bt, _ = register(taken[0], "t0")
    sf, bf, _ = register(free[0], "f0")
    same_shape = st == sf and shape(bt) == shape(bf)
    t_taken, t_free, statuses = [], [], []
    for i in range(1, 6):
        s, _, t = register(taken[i], f"t{i}")
        t_taken.append(t * 1000)
        statuses.append(s)
        s, _, t = register(free[i], f"f{i}")
        t_free.append(t * 1000)
        statuses.append(s)
    m_t, m_f = statistics.median(t_taken), statistics.median(t_free)
    same_class = abs(m_t - m_f) <= max(10.0, 0.25 * max(m_t, m_f))
    shape_note = "same shape" if same_shape else "different status or shape"
    return (f"register with a taken number {said(st, bt)}, with a free one {said(sf, bf)} ({shape_note}); "
            f"timing medians of 5: taken {m_t:.0f} ms, free {m_f:.0f} ms "
            f"({'one class' if same_class else 'different classes'}; statuses {tally(statuses)})",
            same_shape and same_class)


ATTACKS = {
    1: ("SMS switched off for a country", attack1),
    2: ("daily budget burnt for free", attack2),
    3: ("owner locked out by a stranger's starts", attack3),
    4: ("stolen access token becomes a takeover", attack4),
    5: ("test number's fixed code brute-forced", attack5),
    6: ("enumeration at register", attack6),
}

if __name__ == "__main__":
    title, run = ATTACKS[ATTACK]
    try:
        line, ok = run()
    except Broken as e:
        print(f"{ATTACK}. {title}: BROKEN (the client, not a verdict): {e}", flush=True)
        sys.exit(2)
    print(f"{ATTACK}. {title}: {line} -> {verdict(ok)}", flush=True)
