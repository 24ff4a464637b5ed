#!/usr/bin/env python3
"""bench-live-writer.py - rate-controlled sshd syslog writer for the live benchmark
(scripts/bench-live.sh), which also samples the agent it feeds.

usage: bench-live-writer.py --log FILE --rate R --duration D --pid PID --prom URL
                            --alerts JSONL --corpus AUTH_LOG --out RESULT_JSON [options]

1. Benign lines: the sshd/syslog corpus of ../shared/bench/gen-corpus.py (AUTH_LOG, with its
   AUTH_LOG.truth.json), minus every line of a brute-force/enumeration attacker of the truth
   file and every line the sshd parser tags as a failed authentication (failed passwords,
   invalid users, bad banners...), so that looping over them at a high rate fires no scenario.
   Each line gets the current time stamp ("Mon DD HH:MM:SS", local time) when written.
2. Warm-up: groups of 10 benign lines (at most WARMUP) until the agent's Prometheus counter
   cs_filesource_hits_total moves (the agent follows the file), then until it settles.
3. Measured phase: R lines/s for D s, appended to FILE in batches every TICK s (O_APPEND writes
   of whole lines; lines behind schedule are caught up in the next batch). Every ATTACK_EVERY
   s an attack replaces benign lines: ATTACK_LINES "Failed password for root from IP" lines,
   one per tick, from a fresh IP of 198.18.0.0/15, so that exactly one crowdsecurity/ssh-bf
   alert fires (capacity 5: the 6th line overflows). The time the write of the last line of the
   attack returned is recorded.
4. Drain: waits until the agent has read every line written (or made no progress for STALL
   s), then until the stand-in LAPI (bench-live-lapi.py, writing JSONL) has an alert for every
   attack IP (or ALERT_WAIT s passed).
Once a second (and at each phase boundary) the agent's CPU time (/proc/PID/stat utime+stime),
VmRSS and the lines it read are sampled. Everything goes to RESULT_JSON.
"""
import argparse
import json
import os
import re
import sys
import threading
import time
import urllib.request

FAILED_AUTH = re.compile(
    r"Failed |[Ii]nvalid user|authenticating user|banner exchange|authentication failure"
    r"|maximum authentication|Too many authentication|Bad protocol version")
IPV4 = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")
IPV6 = re.compile(r"\b[0-9a-f]{1,4}(?::[0-9a-f]{0,4}){2,7}\b")
HZ = os.sysconf("SC_CLK_TCK")


def benign_lines(corpus):
    """The corpus' lines without the attackers and the failed authentications, time stamp cut."""
    truth_path = corpus + ".truth.json"
    try:
        truth = json.load(open(truth_path))
    except (OSError, ValueError) as e:
        sys.exit(f"bench-live-writer: cannot read {truth_path}: {e}")
    bad = {ip for ips in (truth.get("attackers") or {}).values() for ip in ips}
    out = []
    with open(corpus, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            # "Mon DD HH:MM:SS host prog[pid]: msg": the 15-character BSD stamp is replaced.
            if len(line) < 17 or line[15] != " ":
                continue
            if FAILED_AUTH.search(line):
                continue
            if bad and (bad.intersection(IPV4.findall(line)) or bad.intersection(IPV6.findall(line))):
                continue
            out.append(line[15:].encode() + b"\n")
    if not out:
        sys.exit(f"bench-live-writer: no benign line in {corpus}")
    return out


def attack_ips():
    """Fresh addresses of 198.18.0.0/15 (benchmarking range, in no whitelist), in order."""
    for n in range(256 * 512):
        a, b = divmod(n, 254)
        yield f"198.{18 + a // 256}.{a % 256}.{b + 1}"


class Agent:
    """The measured process: CPU ticks, memory, lines read."""

    def __init__(self, pid, prom):
        self.pid, self.prom = pid, prom

    def alive(self):
        return os.path.exists(f"/proc/{self.pid}/stat")

    def cpu_ticks(self):
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])

    def status_kb(self, key):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        return 0

    def lines_read(self):
        """Sum of cs_filesource_hits_total, None when the endpoint does not answer."""
        try:
            with urllib.request.urlopen(self.prom, timeout=5) as r:
                text = r.read().decode(errors="replace")
        except OSError:
            return None
        total = 0.0
        for line in text.splitlines():
            if line.startswith("cs_filesource_hits_total"):
                try:
                    total += float(line.rsplit(None, 1)[1])
                except (IndexError, ValueError):
                    pass
        return int(total)

    def sample(self, written):
        return {"t": time.time(), "written": written, "read": self.lines_read(),
                "cpu_ticks": self.cpu_ticks(), "rss_kb": self.status_kb("VmRSS")}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--log", required=True, help="file the agent tails")
    p.add_argument("--rate", type=float, required=True, help="lines per second")
    p.add_argument("--duration", type=float, required=True, help="seconds of the measured phase")
    p.add_argument("--pid", type=int, required=True, help="the agent's process id")
    p.add_argument("--prom", required=True, help="the agent's Prometheus URL (.../metrics)")
    p.add_argument("--alerts", required=True, help="JSONL written by bench-live-lapi.py")
    p.add_argument("--corpus", required=True, help="gen-corpus.py sshd output (with .truth.json)")
    p.add_argument("--out", required=True, help="result JSON")
    p.add_argument("--attack-every", type=float, default=0.5, help="seconds between attacks")
    p.add_argument("--attack-lines", type=int, default=6, help="failed logins per attack")
    p.add_argument("--tick", type=float, default=0.01, help="seconds between writes")
    p.add_argument("--warmup", type=int, default=2000, help="at most this many warm-up lines")
    p.add_argument("--ready-timeout", type=float, default=60, help="seconds to wait for warm-up")
    p.add_argument("--stall", type=float, default=10, help="drain: give up after no progress for")
    p.add_argument("--alert-wait", type=float, default=10, help="seconds to wait for last alerts")
    a = p.parse_args()

    lines = benign_lines(a.corpus)
    agent = Agent(a.pid, a.prom)
    if not agent.alive():
        sys.exit(f"bench-live-writer: no process {a.pid}")
    fd = os.open(a.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    stamp_cache = [None, b""]

    def stamp():
        now = int(time.time())
        if stamp_cache[0] != now:
            tm = time.localtime(now)
            stamp_cache[0] = now
            stamp_cache[1] = time.strftime("%b ", tm).encode() + f"{tm.tm_mday:2d}".encode() \
                + time.strftime(" %H:%M:%S", tm).encode()
        return stamp_cache[1]

    pos = [0]

    def benign(n):
        ts = stamp()
        out = []
        for _ in range(n):
            out.append(ts + lines[pos[0]])
            pos[0] = (pos[0] + 1) % len(lines)
        return out

    # 2. warm-up: a datasource that opens the file after a write starts at its end, so warm-up
    # lines are written in small groups until the agent counts some, then until its count
    # settles; the measured phase counts from there.
    deadline = time.time() + a.ready_timeout
    sent = 0
    while True:
        n = agent.lines_read()
        if n:
            break
        if not agent.alive():
            sys.exit("bench-live-writer: the agent exited during the warm-up")
        if time.time() > deadline:
            sys.exit(f"bench-live-writer: the agent read {n} of {sent} warm-up lines "
                     f"after {a.ready_timeout:.0f} s ({a.prom})")
        if sent < a.warmup:
            os.write(fd, b"".join(benign(10)))
            sent += 10
        time.sleep(0.25)
    while True:
        time.sleep(1.0)
        m = agent.lines_read()
        if m == n:
            break
        n = m
    base_read = n
    samples = []
    written = [0]
    stop = threading.Event()

    def sampler():
        while not stop.wait(1.0):
            try:
                samples.append(agent.sample(written[0]))
            except OSError:
                return

    # 3. measured phase
    ips = attack_ips()
    attacks = []        # {"ip", "t_first", "t_overflow", "left"}, in start order
    pending = []        # the attacks with lines left to write
    next_attack = a.attack_every / 2
    last_attack_start = a.duration - 1.0  # leave every attack time to complete in the phase
    pid = 40000
    first = agent.sample(0)
    t0 = first["t"]
    samples.append(first)
    th = threading.Thread(target=sampler, daemon=True)
    th.start()
    tick = 0
    while True:
        tick += 1
        delay = t0 + tick * a.tick - time.time()
        if delay > 0:
            time.sleep(delay)
        elapsed = time.time() - t0
        if elapsed >= a.duration:
            break
        due = int(a.rate * elapsed) - written[0]
        if due <= 0:
            continue
        if next_attack <= min(elapsed, last_attack_start):
            rec = {"ip": next(ips), "t_first": None, "t_overflow": None, "left": a.attack_lines}
            attacks.append(rec)
            pending.append(rec)
            next_attack += a.attack_every
        # One line per attack in progress per batch, in place of benign lines.
        served = pending[:due]
        batch = benign(due - len(served))
        for rec in served:
            pid += 1
            batch.append(stamp() + f" web-prod-1 sshd[{pid}]: Failed password for root from "
                         f"{rec['ip']} port {20000 + pid % 40000} ssh2\n".encode())
        os.write(fd, b"".join(batch))
        t_written = time.time()
        written[0] += len(batch)
        for rec in served:
            rec["left"] -= 1
            if rec["t_first"] is None:
                rec["t_first"] = t_written
            if rec["left"] == 0:
                rec["t_overflow"] = t_written
        pending = [r for r in pending if r["left"] > 0]
        if tick % 100 == 0 and not agent.alive():
            sys.exit("bench-live-writer: the agent exited during the run")
    t_end = time.time()
    stop.set()
    th.join()
    end = agent.sample(written[0])
    end["t"] = t_end
    samples.append(end)
    os.close(fd)
    attacks = [{k: x[k] for k in ("ip", "t_first", "t_overflow")}
               for x in attacks if x["t_overflow"] is not None]

    # 4. drain: every line read, then every alert in.
    last, last_change = None, time.time()
    t_drained = None
    while True:
        n = agent.lines_read()
        if n is not None and n >= base_read + written[0]:
            t_drained = time.time()
            break
        if n != last:
            last, last_change = n, time.time()
        if time.time() - last_change > a.stall or not agent.alive():
            break
        time.sleep(0.1)
    drained = agent.sample(written[0])
    want = {x["ip"] for x in attacks}
    deadline = time.time() + a.alert_wait
    while time.time() < deadline:
        got = set()
        try:
            with open(a.alerts) as f:
                for line in f:
                    r = json.loads(line)
                    if r["scenario"] == "crowdsecurity/ssh-bf":
                        got.add(r["ip"])
        except (OSError, ValueError):
            pass
        if want <= got:
            break
        time.sleep(0.2)
    final = agent.sample(written[0])
    result = {
        "rate_target": a.rate, "duration_target": a.duration, "tick_s": a.tick,
        "benign_distinct_lines": len(lines),
        "lines_written": written[0], "warmup_written": sent,
        "t0": t0, "t_end": t_end, "t_drained": t_drained,
        "rate_achieved": written[0] / (t_end - t0),
        "read_at_start": base_read,
        "read_at_end_of_writing": (end["read"] or 0) - base_read,
        "read_final": (final["read"] or 0) - base_read,
        "cpu_ticks_start": first["cpu_ticks"], "cpu_ticks_end": end["cpu_ticks"],
        "cpu_ticks_drained": drained["cpu_ticks"], "hz": HZ,
        "rss_kb_max_sampled": max(s["rss_kb"] for s in samples),
        "rss_kb_end": final["rss_kb"], "hwm_kb": agent.status_kb("VmHWM"),
        "writer_cpu_s": sum(os.times()[:2]),
        "attack_lines": a.attack_lines, "attacks": attacks, "samples": samples,
    }
    with open(a.out, "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
