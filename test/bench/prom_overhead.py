#!/usr/bin/env python3
"""Per-request overhead of tenantgate in front of a real Prometheus.

Starts the e2e Prometheus fixture (generated multi-namespace data) and
tenantgate with static tokens, then alternates wrk runs against Prometheus
directly (the query already carrying namespace="alpha") and through
tenantgate (the same query without it, namespace=alpha as the tenant
parameter, bearer token). Prints medians of requests/s and latency
percentiles for both, and the ratios.

  TG_BIN=build-rel/tenantgate python3 test/bench/prom_overhead.py [rounds] [seconds]
"""
import os
import re
import statistics
import subprocess
import sys
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
from harness import prom, tg  # noqa: E402

QUERY = 'sum by (job) (rate(http_requests_total%s[5m]))'


def wrk(url, seconds, headers=(), conns=16):
    cmd = ["wrk", "-t1", "-c%d" % conns, "-d%ds" % seconds, "--latency"]
    for h in headers:
        cmd += ["-H", h]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, timeout=seconds + 30).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = {}
    for p in ("50", "99"):
        m = re.search(r"\s%s%%\s+([\d.]+)(us|ms|s)" % p, out)
        v = float(m.group(1)) * {"us": 1e-3, "ms": 1, "s": 1e3}[m.group(2)]
        lat[p] = v
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise SystemExit("non-2xx responses:\n" + out)
    return rps, lat["50"], lat["99"]


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    seconds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    p = prom.Prometheus(exporter=False, name="bench-prom")
    t = tg.TenantGate(p.url, name="bench-tg", extra_args=["--access-log=false"])
    try:
        direct = "%s/api/v1/query?%s" % (p.url, urllib.parse.urlencode(
            {"query": QUERY % '{namespace="alpha"}', "time": p.end}))
        proxied = "http://%s:%d/api/v1/query?%s" % (t.host, t.port, urllib.parse.urlencode(
            {"query": QUERY % "", "time": p.end, "namespace": "alpha"}))
        auth = ["Authorization: Bearer alice-token"]
        for conns in (1, 16):
            res = {"direct": [], "tenantgate": []}
            for _ in range(rounds):
                res["direct"].append(wrk(direct, seconds, conns=conns))
                res["tenantgate"].append(wrk(proxied, seconds, auth, conns=conns))
            med = {k: [statistics.median(x[i] for x in v) for i in range(3)]
                   for k, v in res.items()}
            print("\n%d connection(s): medians of %d alternating %ds wrk runs, 1 thread"
                  % (conns, rounds, seconds))
            print("%-11s %10s %9s %9s" % ("", "req/s", "p50 ms", "p99 ms"))
            for k in ("direct", "tenantgate"):
                print("%-11s %10.0f %9.3f %9.3f" % (k, *med[k]))
            d, g = med["direct"], med["tenantgate"]
            print("ratio tenantgate/direct: req/s %.3f, p50 %.3f, p99 %.3f; added p50 %.3f ms"
                  % (g[0] / d[0], g[1] / d[1], g[2] / d[2], g[1] - d[1]))
    finally:
        t.stop()
        p.stop()


if __name__ == "__main__":
    main()
