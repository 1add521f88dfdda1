"""A flood of refused requests from one client against another client's login (SPEC §11).

Usage: flood.py BASE_URL [FLOOD_REQUESTS] [CONCURRENCY]

Behind TRUSTED_PROXIES=127.0.0.1 each request names its client in X-Forwarded-For. The
honest client (192.0.2.1) registers and times its password logins, one after another:
first with nothing else going on (quiet), then while the flooding client (203.0.113.7),
whose login limit is already spent, sends FLOOD_REQUESTS refused logins, CONCURRENCY at
once. Prints both medians and p99s and PASS when the median under flood is within 3x the
quiet one (MISS otherwise). Python stdlib only; knows only the SPEC.
"""

import http.client
import json
import statistics
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

BASE = sys.argv[1]
FLOOD = int(sys.argv[2]) if len(sys.argv) > 2 else 3000
CONCURRENCY = int(sys.argv[3]) if len(sys.argv) > 3 else 64
HONEST, FLOODER = "192.0.2.1", "203.0.113.7"
PASSWORD = "correct horse battery"
EMAIL = f"honest-{int(time.time())}@example.com"
URL = urllib.parse.urlparse(BASE)
local = threading.local()


def call(method, path, body, client):
    """One request on this thread's kept-alive connection: (status, seconds)."""
    conn = getattr(local, "conn", None)
    if conn is None:
        conn = local.conn = http.client.HTTPConnection(URL.hostname, URL.port, timeout=60)
    data = json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "X-Forwarded-For": client}
    started = time.perf_counter()
    try:
        conn.request(method, path, data, headers)
        res = conn.getresponse()
        res.read()
    except (http.client.HTTPException, OSError):
        local.conn = None
        raise
    return res.status, time.perf_counter() - started


def login(client, email, password):
    return call("POST", "/api/v1/auth/login", {"email": email, "password": password}, client)


def p99(xs):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * 0.99))]


def honest_logins(n):
    out = []
    for _ in range(n):
        status, secs = login(HONEST, EMAIL, PASSWORD)
        if status != 200:
            sys.exit(f"BROKEN: the honest login answered {status}")
        out.append(secs)
    return out


status, _ = call("POST", "/api/v1/auth/register",
                 {"email": EMAIL, "password": PASSWORD, "full_name": "Honest"}, HONEST)
if status != 201:
    sys.exit(f"BROKEN: register answered {status}")
honest_logins(3)  # warm up
quiet = honest_logins(30)

# Spend the flooder's login allowance (LOGIN_PER_IP), so everything after is refused.
statuses = []
with ThreadPoolExecutor(8) as pool:
    statuses = list(pool.map(lambda i: login(FLOODER, f"x{i}@example.com", "wrong password!")[0],
                             range(120)))
if 429 not in statuses:
    sys.exit(f"BROKEN: 120 logins from one client were never refused: {set(statuses)}")

flooded = []
refused = 0
done = threading.Event()


def flood_one(i):
    return login(FLOODER, f"y{i}@example.com", "wrong password!")[0]


def time_honest():
    while not done.is_set():
        flooded.extend(honest_logins(1))


timer = threading.Thread(target=time_honest)
started = time.perf_counter()
timer.start()
with ThreadPoolExecutor(CONCURRENCY) as pool:
    flood_statuses = list(pool.map(flood_one, range(FLOOD)))
flood_secs = time.perf_counter() - started
done.set()
timer.join()
refused = flood_statuses.count(429)

q_med, f_med = statistics.median(quiet), statistics.median(flooded)
print(f"flood: {FLOOD} logins from one client, {CONCURRENCY} at once, in {flood_secs:.2f} s; "
      f"{refused} answered 429, others {sorted(set(flood_statuses) - {429})}")
print(f"honest login quiet:       median {q_med * 1000:7.1f} ms, p99 {p99(quiet) * 1000:7.1f} ms ({len(quiet)} logins)")
print(f"honest login under flood: median {f_med * 1000:7.1f} ms, p99 {p99(flooded) * 1000:7.1f} ms ({len(flooded)} logins)")
verdict = "PASS" if f_med <= 3 * q_med else "MISS"
print(f"{verdict}: under flood the median is {f_med / q_med:.2f}x quiet (SPEC §11: within 3x)")
