#!/usr/bin/env python3
"""Kubernetes API cost and cache-hit latency of tenantgate, on loopback.

    python3 test/bench/kube_load.py [--requests 10000] [--concurrency 32]
                                    [--latency-rounds 3000] [--bin build/tenantgate]

Starts fakekube (its own process, real TLS), a fake upstream (its own
process, a fixed small JSON answer) and one tenantgate with --kubeconfig
*and* a static token file, with the seed config plus one static rule.

1. API calls: 10 tenants x 3 users (30 tokens); --requests requests spread
   uniformly at random over the 30 (token, own tenant) pairs by
   --concurrency threads on keep-alive connections, default TTLs. Prints the
   TokenReview and SubjectAccessReview counts fakekube saw.
2. Latency of a cache hit: --latency-rounds rounds, each one request of
   every kind in turn, one keep-alive connection per kind, sequential:
   kube (bearer token, decisions cached), static (bearer token from the
   token file, static rule: no Kubernetes at all), direct (the upstream, no
   proxy). Prints median and p99 per kind and the ratios.
Stdlib only; everything it starts is stopped at exit.
"""
import argparse
import http.client
import json
import os
import random
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(SRC, "test", "e2e"))
sys.path.insert(0, os.path.join(SRC, "test", "e2e", "fakekube"))
import fakekube  # noqa: E402
from harness.proc import Proc, free_port, wait_until  # noqa: E402

TENANTS = ["tenant-%02d" % i for i in range(10)]
USERS_PER_TENANT = 3
STATIC_TOKEN, STATIC_USER, STATIC_NS = "static-token", "static-user", TENANTS[0]
KUBE_TOKEN_FOR_LATENCY = "tok-tenant-00-0"

# the seed config as manifests/base ships it
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "manifests", "base",
                       "config.yaml")) as _f:
    SEED = _f.read()

UPSTREAM = r"""
import sys, time
sys.path.insert(0, sys.argv[1])
from harness import fake_upstream
u = fake_upstream.FakeUpstream()
print(u.port, flush=True)
while True:
    time.sleep(3600)
"""


def policy():
    tokens, rules = {}, []
    for ns in TENANTS:
        for k in range(USERS_PER_TENANT):
            tokens["tok-%s-%d" % (ns, k)] = {"username": "user-%s-%d" % (ns, k),
                                             "uid": "uid-%s-%d" % (ns, k),
                                             "groups": ["grp-" + ns], "audiences": ["tenantgate"]}
        rules.append({"groups": ["grp-" + ns], "namespaces": [ns], "verbs": ["get"],
                      "resources": ["namespace/metrics"]})
    return {"callers": ["proxy-token"], "tokens": tokens, "rules": rules}


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=10000)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--latency-rounds", type=int, default=3000)
    ap.add_argument("--bin", default=os.environ.get("TG_BIN",
                                                    os.path.join(SRC, "build", "tenantgate")))
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    d = tempfile.mkdtemp(prefix="tg-kube-load-")

    # fakekube in its own process (keeps the GIL of this one for the clients)
    with open(os.path.join(d, "policy.json"), "w") as f:
        json.dump(policy(), f)
    fkport = free_port()
    fk = Proc("fakekube", [sys.executable, os.path.join(SRC, "test/e2e/fakekube/fakekube.py"),
                           "--dir", d, "--port", str(fkport),
                           "--policy", os.path.join(d, "policy.json")])

    def fk_stats():
        c = ssl.create_default_context(cafile=os.path.join(d, "ca.crt"))
        with urllib.request.urlopen("https://127.0.0.1:%d/_fake/stats" % fkport, context=c,
                                    timeout=5) as r:
            return json.load(r)

    wait_until(lambda: os.path.exists(os.path.join(d, "client.key")) and fk_stats(), 30,
               "fakekube", proc=fk)

    up = subprocess.Popen([sys.executable, "-c", UPSTREAM, os.path.join(SRC, "test", "e2e")],
                          stdout=subprocess.PIPE, text=True)
    up_port = int(up.stdout.readline())

    kc = {"apiVersion": "v1", "kind": "Config", "current-context": "c",
          "clusters": [{"name": "k", "cluster": {"server": "https://127.0.0.1:%d" % fkport,
                                                 "certificate-authority": d + "/ca.crt"}}],
          "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
          "users": [{"name": "u", "user": {"token": "proxy-token"}}]}
    with open(os.path.join(d, "kubeconfig"), "w") as f:
        json.dump(kc, f)
    with open(os.path.join(d, "tokens.csv"), "w") as f:
        f.write('%s,%s,9999,"static"\n' % (STATIC_TOKEN, STATIC_USER))
    with open(os.path.join(d, "config.yaml"), "w") as f:
        f.write(SEED + "  static:\n  - user: {name: %s}\n    verb: get\n    namespace: %s\n"
                "    resource: namespace\n    subresource: metrics\n    resourceRequest: true\n"
                % (STATIC_USER, STATIC_NS))
    port, iport = free_port(), free_port()
    t = Proc("tenantgate", [a.bin, "--insecure-listen-address=127.0.0.1:%d" % port,
                            "--internal-listen-address=127.0.0.1:%d" % iport,
                            "--upstream=http://127.0.0.1:%d" % up_port,
                            "--kubeconfig", d + "/kubeconfig", "--auth-token-audiences",
                            "tenantgate", "--token-auth-file", d + "/tokens.csv",
                            "--config-file", d + "/config.yaml", "--log-level=warn"])

    def healthy():
        c = http.client.HTTPConnection("127.0.0.1", iport, timeout=2)
        c.request("GET", "/healthz")
        return c.getresponse().status == 200

    try:
        wait_until(healthy, 15, "tenantgate", proc=t)
        print("tenantgate %s, fakekube :%d, upstream :%d" % (a.bin, fkport, up_port))

        # 1. API calls for a realistic mix
        pairs = [("tok-%s-%d" % (ns, k), ns) for ns in TENANTS for k in range(USERS_PER_TENANT)]
        rng = random.Random(a.seed)
        plan = [rng.choice(pairs) for _ in range(a.requests)]
        lock = threading.Lock()
        statuses = {}
        before = fk_stats()

        def worker(idx):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            got = {}
            for i in range(idx, len(plan), a.concurrency):
                tok, ns = plan[i]
                c.request("GET", "/api/v1/query?query=up&namespace=" + ns,
                          headers={"Authorization": "Bearer " + tok})
                r = c.getresponse()
                r.read()
                got[r.status] = got.get(r.status, 0) + 1
            c.close()
            with lock:
                for k, v in got.items():
                    statuses[k] = statuses.get(k, 0) + v

        t0 = time.monotonic()
        ths = [threading.Thread(target=worker, args=(i,)) for i in range(a.concurrency)]
        for th in ths:
            th.start()
        for th in ths:
            th.join()
        el = time.monotonic() - t0
        after = fk_stats()
        tr = after["tokenreviews"] - before["tokenreviews"]
        sar = after["sars"] - before["sars"]
        print("\n[1] %d requests, %d tokens / %d tenants, concurrency %d, default TTLs: "
              "%.1fs (%.0f req/s), statuses %s" % (a.requests, len(pairs), len(TENANTS),
                                                   a.concurrency, el, a.requests / el, statuses))
        print("    TokenReviews: %d   SubjectAccessReviews: %d   (per 10 000 requests: %.1f + %.1f)"
              % (tr, sar, tr * 10000.0 / a.requests, sar * 10000.0 / a.requests))

        # 2. latency of a cache hit vs static token vs direct
        kinds = {
            "kube": (port, {"Authorization": "Bearer " + KUBE_TOKEN_FOR_LATENCY}),
            "static": (port, {"Authorization": "Bearer " + STATIC_TOKEN}),
            "direct": (up_port, {}),
        }
        path = "/api/v1/query?query=up&namespace=" + STATIC_NS
        conns = {k: http.client.HTTPConnection("127.0.0.1", p, timeout=10)
                 for k, (p, _) in kinds.items()}
        lat = {k: [] for k in kinds}
        n0 = fk_stats()
        for rnd in range(a.latency_rounds + 100):
            for k, (_, h) in kinds.items():
                s = time.perf_counter()
                conns[k].request("GET", path, headers=h)
                r = conns[k].getresponse()
                r.read()
                e = time.perf_counter() - s
                if r.status != 200:
                    raise SystemExit("%s: HTTP %d" % (k, r.status))
                if rnd >= 100:  # warm-up rounds not counted
                    lat[k].append(e * 1e6)
        n1 = fk_stats()
        print("\n[2] %d rounds (kube, static, direct in turn; keep-alive; 100 warm-up rounds "
              "dropped), API calls during the run: %d" % (
                  a.latency_rounds, n1["requests"] - n0["requests"]))
        med = {k: statistics.median(v) for k, v in lat.items()}
        for k, v in lat.items():
            print("    %-7s median %7.1f us   p99 %7.1f us" % (k, med[k], pct(v, 99)))
        print("    kube/static median ratio %.3f (+%.1f us); static/direct %.3f; kube/direct %.3f"
              % (med["kube"] / med["static"], med["kube"] - med["static"],
                 med["static"] / med["direct"], med["kube"] / med["direct"]))
    finally:
        t.stop()
        fk.stop()
        up.kill()
        up.wait()


if __name__ == "__main__":
    main()
