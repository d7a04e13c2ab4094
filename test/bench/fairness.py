#!/usr/bin/env python3
"""Fairness between tenants in front of a real Prometheus (the issue's proof
for limits:). Tenant A (alice, namespace alpha) floods with heavy queries
(long subqueries) from wrk at 256 connections; tenant B (bob, namespace beta)
runs a dashboard-like load: a few keep-alive connections (Grafana's), each
sending six light panel queries in turn at a fixed pace (--b-rate requests/s
per connection), every request's latency recorded (one still unanswered when
the run ends counts with the time it has waited). B's latency with and
without A's flood, with limits off and on:

  1. limits off, B alone          2. limits off, B + A's flood
  3. limits on,  B alone          4. limits on,  B + A's flood

Goal: in 4, B's p99 within 1.5x of B alone (3). With limits on, each tenant
value gets `maxInflight` upstream requests (default 1 here: one heavy query
of A keeps one Prometheus core busy, the other stays for everyone else) and
the rest of A's requests wait in A's queue, where they cost nothing.

  TG_BIN=build-rel/tenantgate python3 test/bench/fairness.py [--seconds S] [--rounds N]
                 [--inflight N] [--b-conns N] [--b-rate R] [--a-conns N]

Needs wrk (scripts/deps.sh bench) and Debian's prometheus/promtool. Loopback
only; prints a Markdown table of B's req/s, p50 and p99 (medians over rounds)
and A's completed requests.
"""
import argparse
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
from harness import proc, prom, tg  # noqa: E402

LUA = os.path.join(HERE, "queries.lua")

# B: a dashboard of six panels over the last hours of beta's data
DASHBOARD = [
    'sum by (code) (rate(http_requests_total[5m]))',
    'sum(rate(http_requests_total[5m]))',
    'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))',
    'count by (pod) (kube_pod_info)',
    'avg(up)',
    'topk(3, sum by (pod) (rate(http_requests_total[1h])))',
]
# A: long subqueries at a fine step, each keeps a Prometheus core busy
HEAVY = [
    'max_over_time(sum by (pod) (rate(http_requests_total[5m]))[3h:20ms])',
    'quantile_over_time(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m]))[3h:50ms])',
    'avg_over_time(count by (code) (http_requests_total)[3h:20ms])',
]


def write_lines(path, lines):
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def wrk(gate, queries, token, ns, conns, seconds):
    """wrk with queries.lua rotating through `queries` (instant queries at now: the data
    ends at the current minute)."""
    env = dict(os.environ, TG_BENCH_QUERIES=queries, TG_BENCH_TOKEN=token, TG_BENCH_NS=ns)
    url = "http://%s:%d/" % (gate.host, gate.port)
    out = subprocess.run(["wrk", "-t1", "-c%d" % conns, "-d%ds" % seconds, "--timeout", "120s",
                          "-s", LUA, url], capture_output=True, text=True, env=env,
                         timeout=seconds + 150).stdout
    m = re.search(r"WRKJSON (\{.*\})", out)
    if not m:
        raise SystemExit("wrk failed:\n" + out)
    r = json.loads(m.group(1))
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    return r


def percentile(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))] if xs else 0.0


def dashboard(gate, args, queries=DASHBOARD):
    """B: args.b_conns connections, each one query every 1/b_rate s for args.seconds."""
    lat, errors, lock = [], [0], threading.Lock()
    stop_at = time.monotonic() + args.seconds

    def worker(k):
        c = http.client.HTTPConnection(gate.host, gate.port, timeout=120)
        i, nxt = k, time.monotonic()
        while nxt < stop_at:
            q = urllib.parse.urlencode({"query": queries[i % len(queries)],
                                        "namespace": "beta"})
            t0 = time.monotonic()
            try:
                c.request("GET", "/api/v1/query?" + q,
                          headers={"Authorization": "Bearer bob-token"})
                r = c.getresponse()
                r.read()
                ok = r.status == 200
            except (OSError, http.client.HTTPException):
                ok = False
                c.close()
                c = http.client.HTTPConnection(gate.host, gate.port, timeout=120)
            with lock:
                lat.append(time.monotonic() - t0)
                errors[0] += not ok
            i += 1
            nxt += 1.0 / args.b_rate
            time.sleep(max(0.0, nxt - time.monotonic()))
        c.close()

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(args.b_conns)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return {"requests": len(lat), "status": errors[0], "rps": len(lat) / args.seconds,
            "p50": percentile(lat, 50) * 1e6, "p99": percentile(lat, 99) * 1e6}


def scenario(gate, a_file, args, flood):
    """One round: B's dashboard, with A's flood running around it when `flood`."""
    a_res = {}
    if flood:
        def run_a():
            a_res.update(wrk(gate, a_file, "alice-token", "alpha", args.a_conns,
                             args.seconds + 4))
        t = threading.Thread(target=run_a)
        t.start()
        # let A's 256 connections fill the upstream (and the queue) first
        proc.wait_until(lambda: float(re.search(
            r'^tenantgate_requests_in_flight (\S+)$', gate.metrics(), re.M).group(1))
            >= args.a_conns / 2, 30, "A's flood under way")
    b = dashboard(gate, args)
    if flood:
        t.join()
    return b, a_res


def enforced(queries, ns):
    """The queries as tenantgate sends them for tenant `ns` (for the direct runs)."""
    out = subprocess.run([os.environ.get("TG_BIN", "build-rel/tenantgate"), "enforce", "--label",
                          "namespace", "--value", ns], input="\n".join(queries) + "\n",
                         capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if line]


class Direct:
    """Prometheus itself as the `gate` of dashboard(): no proxy in between."""

    def __init__(self, p):
        self.host, self.port = "127.0.0.1", p.port


def heavy_direct(p, queries, n, stop):
    """n connections, each sending A's (enforced) heavy queries straight to Prometheus in a
    loop until `stop` is set: what A can still run with limits on (maxInflight n)."""
    def worker(k):
        c = http.client.HTTPConnection("127.0.0.1", p.port, timeout=300)
        i = k
        while not stop.is_set():
            c.request("GET", "/api/v1/query?" + urllib.parse.urlencode(
                {"query": queries[i % len(queries)]}))
            c.getresponse().read()
            i += 1
    ts = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(n)]
    for t in ts:
        t.start()
    return ts


def floor(p, args):
    """B straight to Prometheus, alone and beside A's maxInflight heavy queries: the p99 ratio
    no admission control in front of this Prometheus can beat (its own interference)."""
    direct, b_q, a_q = Direct(p), enforced(DASHBOARD, "beta"), enforced(HEAVY, "alpha")
    res = {False: [], True: []}
    for _ in range(args.rounds):
        for flood in (False, True):
            stop = threading.Event()
            ts = heavy_direct(p, a_q, args.inflight, stop) if flood else []
            res[flood].append((dashboard(direct, args, b_q), {}))
            stop.set()
            for t in ts:
                t.join(300)
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--inflight", type=int, default=1, help="limits.defaults.maxInflight")
    ap.add_argument("--b-conns", type=int, default=4)
    ap.add_argument("--b-rate", type=float, default=10, help="B's requests/s per connection")
    ap.add_argument("--a-conns", type=int, default=256)
    args = ap.parse_args()

    p = prom.Prometheus(exporter=False, name="fair-prom")
    d = proc.subdir("fairness")
    a_file = os.path.join(d, "heavy.txt")
    write_lines(a_file, HEAVY)
    limits = ("limits:\n  defaults: {maxInflight: %d, maxQueued: 1024, queueTimeout: 120s}\n"
              % args.inflight)
    results = {}
    try:
        for name, cfg in (("off", tg.config_yaml()), ("on", tg.config_yaml() + limits)):
            gate = tg.TenantGate(p.url, config=cfg, name="fair-tg-" + name,
                                 extra_args=["--access-log=false"])
            try:
                for flood in (False, True):
                    rounds = [scenario(gate, a_file, args, flood)
                              for _ in range(args.rounds)]
                    results[(name, flood)] = rounds
            finally:
                gate.stop()
        floor_res = floor(p, args)
    finally:
        p.stop()

    def med(rounds, key, who=0):
        vals = [r[who][key] for r in rounds if r[who]]
        return statistics.median(vals) if vals else 0

    print("\nB: %d connection(s) x %g queries/s, six dashboard queries; A: %d connections, "
          "heavy subqueries; medians of %d rounds of %d s; limits on = maxInflight %d, "
          "maxQueued 1024 per tenant\n"
          % (args.b_conns, args.b_rate, args.a_conns, args.rounds, args.seconds, args.inflight))
    print("| limits | A's flood | B req/s | B p50 ms | B p99 ms | B non-2xx | A done | A non-2xx |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for name in ("off", "on"):
        for flood in (False, True):
            r = results[(name, flood)]
            print("| %s | %s | %.0f | %.2f | %.2f | %d | %s | %s |" % (
                name, "yes" if flood else "no", med(r, "rps"), med(r, "p50") / 1000,
                med(r, "p99") / 1000, med(r, "status"),
                "%d" % med(r, "requests", 1) if flood else "-",
                "%d" % med(r, "status", 1) if flood else "-"))
    for flood in (False, True):
        r = floor_res[flood]
        print("| direct to Prometheus | %s | %.0f | %.2f | %.2f | %d | - | - |" % (
            "%d heavy in flight" % args.inflight if flood else "no", med(r, "rps"),
            med(r, "p50") / 1000, med(r, "p99") / 1000, med(r, "status")))
    results[("direct", False)], results[("direct", True)] = floor_res[False], floor_res[True]
    for name in ("off", "on", "direct"):
        alone, flooded = results[(name, False)], results[(name, True)]
        print("\n%s: B's p99 with A's flood / alone = %.2f, p50 %.2f" % (
            "no proxy, A's maxInflight heavy queries" if name == "direct" else "limits " + name,
            med(flooded, "p99") / max(1, med(alone, "p99")),
            med(flooded, "p50") / max(1, med(alone, "p50"))))


if __name__ == "__main__":
    try:
        main()
    finally:
        proc.cleanup()
