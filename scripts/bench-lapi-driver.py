#!/usr/bin/env python3
"""bench-lapi-driver.py - HTTP load of scripts/bench-lapi.sh against one Local API.

Sub-commands (one JSON object printed on stdout):
  startup  URL KEY                      one full `GET /v1/decisions/stream?startup=true`:
                                        seconds, bytes, number of new decisions
  parallel URL KEYFILE                  every key of KEYFILE (one per line) pulls the startup
                                        stream at the same time: wall seconds, slowest, failures
  incr     URL KEY COUNT                COUNT sequential incremental pulls on one keep-alive
                                        connection: p50/p99/max milliseconds
  ingest   URL MACHINE PASSWORD SECONDS WORKERS BATCH
                                        WORKERS connections push batches of BATCH alerts (no
                                        decisions: the profiles ban) for SECONDS: alerts/s
  seed     IMPL DB WHAT COUNT           direct inserts into a stopped LAPI's SQLite file; IMPL is
                                        `go` (1.4.6 ent schema) or `rs` (ours); WHAT is `active`
                                        (bans until tomorrow), `expired` (ended an hour ago) or
                                        `bouncers` (COUNT keys `benchbouncerNNNN...`, printed)
Standard library only.
"""
import hashlib
import http.client
import sqlite3
import json
import sys
import threading
import time
import urllib.parse


def conn(url):
    u = urllib.parse.urlsplit(url)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=600)


BOUNCER_UA = "crowdsec-firewall-bouncer/v0.0.25-bench"
AGENT_UA = "crowdsec/v1.4.6-bench"


def get(c, path, headers):
    c.request("GET", path, headers={"User-Agent": BOUNCER_UA, **headers})
    r = c.getresponse()
    body = r.read()
    return r.status, body


def startup(url, key):
    c = conn(url)
    t0 = time.perf_counter()
    status, body = get(c, "/v1/decisions/stream?startup=true", {"X-Api-Key": key})
    dt = time.perf_counter() - t0
    if status != 200:
        raise SystemExit(f"startup pull answered {status}: {body[:200]!r}")
    new = json.loads(body).get("new") or []
    return {"seconds": dt, "bytes": len(body), "decisions": len(new)}


def parallel(url, keyfile):
    keys = [k.strip() for k in open(keyfile) if k.strip()]
    barrier = threading.Barrier(len(keys) + 1)
    results = [None] * len(keys)

    def pull(i, key):
        c = conn(url)
        barrier.wait()
        t0 = time.perf_counter()
        try:
            status, body = get(c, "/v1/decisions/stream?startup=true", {"X-Api-Key": key})
            results[i] = (status, time.perf_counter() - t0, len(body))
        except OSError as e:
            results[i] = (str(e), time.perf_counter() - t0, 0)

    threads = [threading.Thread(target=pull, args=(i, k)) for i, k in enumerate(keys)]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    failed = sum(1 for r in results if r[0] != 200)
    return {
        "bouncers": len(keys),
        "wall_seconds": wall,
        "slowest_seconds": max(r[1] for r in results),
        "failed": failed,
        "bytes_each": max(r[2] for r in results),
    }


def incr(url, key, count):
    c = conn(url)
    h = {"X-Api-Key": key}
    lat = []
    for _ in range(count):
        t0 = time.perf_counter()
        status, body = get(c, "/v1/decisions/stream", h)
        lat.append((time.perf_counter() - t0) * 1000)
        if status != 200:
            raise SystemExit(f"incremental pull answered {status}: {body[:200]!r}")
    lat.sort()

    def pct(p):
        return lat[min(len(lat) - 1, int(len(lat) * p))]

    return {"pulls": count, "p50_ms": pct(0.50), "p99_ms": pct(0.99), "max_ms": lat[-1]}


def alert(ip, now):
    return {
        "capacity": 5,
        "decisions": None,
        "events": [
            {"timestamp": now, "meta": [{"key": "source_ip", "value": ip}, {"key": "service", "value": "ssh"}]}
        ],
        "events_count": 6,
        "labels": None,
        "leakspeed": "10s",
        "message": f"Ip {ip} performed 'crowdsecurity/ssh-bf' (6 events over 1s)",
        "remediation": True,
        "scenario": "crowdsecurity/ssh-bf",
        "scenario_hash": "4441dcff07020f6690d998b7101e642359ba405c2abb83565bbbdcee36de280f",
        "scenario_version": "0.1",
        "simulated": False,
        "source": {"ip": ip, "range": "", "scope": "Ip", "value": ip},
        "start_at": now,
        "stop_at": now,
    }


def ingest(url, machine, password, seconds, workers, batch):
    c = conn(url)
    c.request(
        "POST",
        "/v1/watchers/login",
        body=json.dumps({"machine_id": machine, "password": password, "scenarios": ["crowdsecurity/ssh-bf"]}),
        headers={"Content-Type": "application/json", "User-Agent": AGENT_UA},
    )
    r = c.getresponse()
    body = r.read()
    if r.status != 200:
        raise SystemExit(f"login answered {r.status}: {body[:200]!r}")
    token = json.loads(body)["token"]
    h = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", "User-Agent": AGENT_UA}
    stop = time.perf_counter() + seconds
    counts = [0] * workers
    errors = [0] * workers

    def push(w):
        c = conn(url)
        n = 0
        while time.perf_counter() < stop:
            now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            alerts = []
            for _ in range(batch):
                v = (w << 24) + n
                n += 1
                alerts.append(alert(f"{(v >> 24) + 11}.{(v >> 16) & 255}.{(v >> 8) & 255}.{v & 255}", now))
            c.request("POST", "/v1/alerts", body=json.dumps(alerts), headers=h)
            r = c.getresponse()
            r.read()
            if r.status == 201:
                counts[w] += batch
            else:
                errors[w] += 1

    t0 = time.perf_counter()
    threads = [threading.Thread(target=push, args=(w,)) for w in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return {"alerts": sum(counts), "seconds": wall, "alerts_per_s": sum(counts) / wall, "failed_requests": sum(errors)}


# SQL expressions of a time relative to now, per schema: Go's driver stores text
# ("2006-01-02 15:04:05.999999999+00:00"), ours integer nanoseconds.
def ts(impl, modifier):
    if impl == "go":
        return f"(strftime('%Y-%m-%d %H:%M:%f', 'now', '{modifier}') || '+00:00')"
    return f"(CAST((julianday('now', '{modifier}') - 2440587.5) * 86400000 AS INTEGER) * 1000000)"


def bouncer_key(i):
    return f"benchbouncer{i:020d}"


def seed(impl, db, what, count):
    con = sqlite3.connect(db)
    con.execute("PRAGMA synchronous = OFF")
    now = ts(impl, "+0 seconds")
    if what == "bouncers":
        keys = [bouncer_key(i) for i in range(count)]
        for i, key in enumerate(keys):
            h = hashlib.sha512(key.encode()).hexdigest()
            if impl == "go":
                con.execute(
                    f"INSERT INTO bouncers (created_at, updated_at, name, api_key, revoked, ip_address, type, version, last_pull, auth_type) "
                    f"VALUES ({now}, {now}, ?, ?, 0, '', '', '', {now}, 'api-key')",
                    (f"bench-bouncer-{i}", h),
                )
            else:
                con.execute(
                    f"INSERT INTO bouncers (created_at, updated_at, name, api_key, revoked, ip_address, type, version, last_pull, auth_type, osname, osfamily, osversion, featureflags, auto_created) "
                    f"VALUES ({now}, {now}, ?, ?, 0, '', '', '', NULL, 'api-key', '', '', '', '', 0)",
                    (f"bench-bouncer-{i}", h),
                )
        con.commit()
        return {"bouncers": count, "keys": keys}
    created, until = {"active": ("+0 seconds", "+1 day"), "expired": ("-2 hours", "-1 hour")}[what]
    created, until = ts(impl, created), ts(impl, until)
    if impl == "go":
        con.execute(
            f"INSERT INTO alerts (created_at, updated_at, scenario, bucket_id, message, events_count, started_at, stopped_at, "
            f"source_ip, source_range, source_as_number, source_as_name, source_country, source_latitude, source_longitude, "
            f"source_scope, source_value, capacity, leak_speed, scenario_version, scenario_hash, simulated) "
            f"VALUES ({now}, {now}, 'bench seed', '', 'bench seed', 1, {now}, {now}, '', '', '', '', '', 0, 0, 'Ip', '', 0, '', '', '', 0)"
        )
    else:
        con.execute(
            f"INSERT INTO alerts (created_at, updated_at, scenario, bucket_id, message, events_count, started_at, stopped_at, "
            f"source_ip, source_range, source_as_number, source_as_name, source_country, source_latitude, source_longitude, "
            f"source_scope, source_value, capacity, leak_speed, scenario_version, scenario_hash, simulated, uuid, remediation, kind, machine_id) "
            f"VALUES ({now}, {now}, 'bench seed', '', 'bench seed', 1, {now}, {now}, '', '', '', '', '', 0, 0, 'Ip', '', 0, '', '', '', 0, "
            f"lower(hex(randomblob(16))), 1, '', NULL)"
        )
    alert_id = con.execute("SELECT max(id) FROM alerts").fetchone()[0]
    # Addresses continue after the decisions already there, so every value is distinct.
    first = con.execute("SELECT count(*) FROM decisions").fetchone()[0] + 16777216
    ip = f"({first} + i)"
    value = f"(({ip} >> 24) || '.' || (({ip} >> 16) & 255) || '.' || (({ip} >> 8) & 255) || '.' || ({ip} & 255))"
    start = f"({ip} - 9223372036854775807 - 1)"
    common = "scenario, type, start_ip, end_ip, start_suffix, end_suffix, ip_size, scope, value, origin, simulated, alert_decisions"
    gen = f"WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {count - 1}) "
    if impl == "go":
        con.execute(
            f"{gen}INSERT INTO decisions (created_at, updated_at, until, {common}) "
            f"SELECT {created}, {created}, {until}, 'bench seed', 'ban', {start}, {start}, 0, 0, 4, 'Ip', {value}, 'cscli', 0, {alert_id} FROM n"
        )
    else:
        con.execute(
            f"{gen}INSERT INTO decisions (created_at, updated_at, until_at, {common}, uuid) "
            f"SELECT {created}, {created}, {until}, 'bench seed', 'ban', {start}, {start}, -9223372036854775807 - 1, "
            f"-9223372036854775807 - 1, 4, 'Ip', {value}, 'cscli', 0, {alert_id}, printf('%08x-0000-4000-8000-%012x', i, {first} + i) FROM n"
        )
    con.commit()
    con.close()
    return {"inserted": count, "what": what}


def main(argv):
    cmd, args = argv[1], argv[2:]
    if cmd == "startup":
        out = startup(args[0], args[1])
    elif cmd == "parallel":
        out = parallel(args[0], args[1])
    elif cmd == "incr":
        out = incr(args[0], args[1], int(args[2]))
    elif cmd == "ingest":
        out = ingest(args[0], args[1], args[2], float(args[3]), int(args[4]), int(args[5]))
    elif cmd == "seed":
        out = seed(args[0], args[1], args[2], int(args[3]))
    else:
        raise SystemExit(f"unknown command {cmd}")
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv)
