#!/usr/bin/env python3
"""tenantgate benchmarks (see BENCHMARKS.md). Python stdlib + nginx + wrk.

    bench.py [--quick] [--rounds N] [--seconds S] [name ...]

names: proxy memory stream promql load profile keepalive (default: all but
profile and keepalive).
Every process runs on loopback and is started and stopped here (the e2e
harness's Proc: own process group, killed at exit). Results are printed as
Markdown and written as JSON to $TG_BENCH_OUT (default build-rel/bench-out).
"""
import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, "../.."))
sys.path.insert(0, os.path.join(SRC, "test/e2e"))
os.environ.setdefault("TG_BUILD_DIR", os.path.join(SRC, "build-rel"))

from harness import proc as hproc  # noqa: E402
from harness.proc import Proc, free_port, subdir, wait_port, wait_until, http_ok  # noqa: E402
from harness import tg as htg  # noqa: E402

CORPUS = os.environ.get("TG_CORPUS", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "corpus", "queries.txt"))
BUILD = os.environ["TG_BUILD_DIR"]
LUA = os.path.join(HERE, "queries.lua")
OUT = os.environ.get("TG_BENCH_OUT", os.path.join(BUILD, "bench-out"))

# A ~1 KB Prometheus instant-vector answer (what /api/v1/query returns).
def prom_answer(target=1024):
    res = []
    i = 0
    while True:
        res.append({"metric": {"__name__": "http_requests_total", "namespace": "alpha",
                               "pod": "alpha-api-%d" % i, "code": "200", "job": "api"},
                    "value": [1700000000.123, str(1234 + i)]})
        body = json.dumps({"status": "success", "data": {"resultType": "vector", "result": res}},
                          separators=(",", ":"))
        if len(body) >= target:
            return body
        i += 1


# ---------------------------------------------------------------- processes

NGINX_MAIN = """
worker_processes 1;
daemon off;
master_process off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 8192; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  keepalive_requests 100000000;
  keepalive_timeout 600s;
  large_client_header_buffers 4 16k;
{body}
}}
"""


def nginx(name, body):
    """nginx with one process (master_process off: it is the worker)."""
    d = subdir(name)
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_MAIN.format(dir=d, body=body))
    p = Proc(name, ["nginx", "-p", d, "-c", conf])
    return p


def static_upstream():
    """nginx answering every request with the same ~1 KB JSON (and /big: 1 GB)."""
    port = free_port()
    d = subdir("static-files")
    big = os.path.join(d, "big")
    with open(big, "wb") as f:  # sparse: no disk space, no page cache to speak of
        f.truncate(1 << 30)
    body = prom_answer().replace("'", "\\'")
    p = nginx("nginx-upstream", """
  server {
    listen 127.0.0.1:%d backlog=4096;
    location / { default_type application/json; return 200 '%s'; }
    location = /api/v1/query_range { root %s; default_type application/octet-stream;
                                     try_files /big =404; }
  }""" % (port, body, d))
    wait_port("127.0.0.1", port, proc=p)
    return p, port


def nginx_proxy(up_port):
    port = free_port()
    p = nginx("nginx-proxy", """
  upstream up { server 127.0.0.1:%d; keepalive 64; }
  server {
    listen 127.0.0.1:%d backlog=4096;
    location / { proxy_pass http://up; proxy_http_version 1.1;
                 proxy_set_header Connection ""; }
  }""" % (up_port, port))
    wait_port("127.0.0.1", port, proc=p)
    return p, port


def tenantgate(upstream_url, extra=(), binary=None, name="tenantgate"):
    if binary:
        old, htg.BIN = htg.BIN, binary
    try:
        return htg.TenantGate(upstream_url, extra_args=list(extra), name=name)
    finally:
        if binary:
            htg.BIN = old


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    """user + system CPU time of pid so far."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class RssSampler(threading.Thread):
    def __init__(self, pid, interval=0.1):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.samples = []  # (t, kib)
        self.stop_ev = threading.Event()
        self.t0 = time.monotonic()

    def run(self):
        while not self.stop_ev.is_set():
            try:
                self.samples.append((time.monotonic() - self.t0, rss_kib(self.pid)))
            except OSError:
                return
            self.stop_ev.wait(self.interval)

    def stop(self):
        self.stop_ev.set()
        self.join(5)

    def at(self, t):
        """Last sample taken at or before t seconds."""
        best = None
        for ts, v in self.samples:
            if ts <= t:
                best = v
        return best


def wrk(url, seconds, conns=64, threads=1, queries=CORPUS, timeout_s=10):
    env = dict(os.environ, TG_BENCH_QUERIES=queries)
    cmd = ["wrk", "-t%d" % threads, "-c%d" % conns, "-d%ds" % seconds, "--timeout",
           "%ds" % timeout_s, "-s", LUA, url]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=seconds + 60)
    m = re.search(r"^WRKJSON (\{.*\})$", out.stdout, re.M)
    if not m:
        raise RuntimeError("wrk failed: %s\n%s" % (out.stdout, out.stderr))
    r = json.loads(m.group(1))
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    r["errors"] = r["connect"] + r["read"] + r["write"] + r["timeout"]
    return r


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def fmt_ms(us):
    return "%.2f ms" % (us / 1000.0)


def save(name, data):
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        json.dump(data, f, indent=1)


# ---------------------------------------------------------------- 1. proxy

GOHOPS_SRC = os.path.join(HERE, "gohops")


def build_gohops():
    """Builds test/bench/gohops with Debian's Go in GOPATH mode (no module download).
    Returns (binary, None) or (None, the reason it cannot)."""
    if not shutil.which("go"):
        return None, "no go compiler (bash scripts/deps.sh bench installs golang-go)"
    gocode = "/usr/share/gocode"
    if not os.path.isdir(os.path.join(gocode, "src/github.com/VictoriaMetrics/metricsql")):
        return None, ("no metricsql in %s (bash scripts/deps.sh bench installs "
                      "golang-github-victoriametrics-metricsql-dev)" % gocode)
    out = os.path.join(BUILD, "gohops")
    tmp = subdir("gopath")
    env = dict(os.environ, GO111MODULE="off", GOPATH="%s:%s" % (gocode, tmp),
               GOCACHE=os.path.join(tmp, "cache"), GOFLAGS="")
    r = subprocess.run(["go", "build", "-o", out, "."], cwd=GOHOPS_SRC, env=env,
                       capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        return None, "go build failed: " + (r.stderr or r.stdout).strip()[-500:]
    return out, None


def go_chain(binary, up_port):
    """token hop -> label hop -> upstream; returns ([procs], url)."""
    p2 = free_port()
    label = Proc("go-label", [binary, "-mode", "label", "-listen", "127.0.0.1:%d" % p2,
                              "-upstream", "http://127.0.0.1:%d" % up_port])
    wait_port("127.0.0.1", p2, proc=label)
    p1 = free_port()
    token = Proc("go-token", [binary, "-mode", "token", "-listen", "127.0.0.1:%d" % p1,
                              "-upstream", "http://127.0.0.1:%d" % p2,
                              "-tokens", "alice-token=alpha,bob-token=beta"])
    wait_port("127.0.0.1", p1, proc=token)
    return [token, label], "http://127.0.0.1:%d" % p1


def bench_proxy(args):
    rounds = args.rounds or (3 if args.quick else 5)
    secs = args.seconds or (4 if args.quick else 10)
    up, up_port = static_upstream()
    ngx, ngx_port = nginx_proxy(up_port)
    tg = tenantgate("http://127.0.0.1:%d" % up_port)
    targets = {"nginx": "http://127.0.0.1:%d" % ngx_port, "tenantgate": tg.url}
    pids = {"nginx": [ngx.pid], "tenantgate": [tg.pid]}
    stops = [tg, ngx]
    gobin, why = build_gohops()
    if gobin:
        gprocs, gurl = go_chain(gobin, up_port)
        targets["go2hop"] = gurl
        pids["go2hop"] = [p.pid for p in gprocs]
        stops += gprocs
    else:
        print("  Go two-hop column skipped: %s" % why, flush=True)
    # sanity: the full chain answers 200 with the upstream's body
    r = tg.get("/api/v1/query", query={"query": "up", "namespace": "alpha"}, token="alice-token")
    assert r.status == 200 and len(r.body) >= 1000, r
    for name, url in targets.items():  # warm-up (pools, caches, page faults)
        w = wrk(url, 2)
        assert w["status"] == 0 and w["requests"] > 0, (name, w)
    sc = {}
    if shutil.which("strace"):
        for name, url in targets.items():
            sc[name] = syscalls_per_request(pids[name], url)
    res = {k: [] for k in targets}
    light = {k: [] for k in targets}  # 4 connections: far from saturation
    order = list(targets)
    cpu = lambda name: sum(cpu_seconds(p) for p in pids[name])
    for i in range(rounds):
        for name in (order if i % 2 == 0 else order[::-1]):
            light[name].append(wrk(targets[name], max(2, secs // 2), conns=4))
            c0 = cpu(name)
            w = wrk(targets[name], secs)
            w["cpu_us_per_req"] = (cpu(name) - c0) * 1e6 / max(w["requests"], 1)
            res[name].append(w)
            print("  round %d %-10s %8.0f req/s  p50 %s  p99 %s  CPU %.1f us/req  non-2xx %d  "
                  "socket errors %d" % (i + 1, name, w["rps"], fmt_ms(w["p50"]), fmt_ms(w["p99"]),
                                        w["cpu_us_per_req"], w["status"], w["errors"]), flush=True)
    out = {"rounds": rounds, "seconds": secs, "conns": 64, "tg_rss_kib": rss_kib(tg.pid),
           "go_skipped": why, "syscalls": sc}
    ratio = lambda name, key: med([t[key] / n[key] for t, n in zip(res[name], res["nginx"])])
    for name in targets:
        out[name] = {"rps": med([w["rps"] for w in res[name]]),
                     "p50_us": med([w["p50"] for w in res[name]]),
                     "p99_us": med([w["p99"] for w in res[name]]),
                     "cpu_us": med([w["cpu_us_per_req"] for w in res[name]]),
                     "non2xx": sum(w["status"] for w in res[name]),
                     "errors": sum(w["errors"] for w in res[name]),
                     "ratio_rps": ratio(name, "rps"), "ratio_p50": ratio(name, "p50"),
                     "ratio_p99": ratio(name, "p99"), "ratio_cpu": ratio(name, "cpu_us_per_req"),
                     "syscalls": sum(v for k, v in sc.get(name, {}).items() if k != "total"),
                     "runs": res[name]}
        out[name]["light"] = {"rps": med([w["rps"] for w in light[name]]),
                              "p50_us": med([w["p50"] for w in light[name]]),
                              "p99_us": med([w["p99"] for w in light[name]]),
                              "non2xx": sum(w["status"] for w in light[name]),
                              "ratio_p50": med([t["p50"] / n["p50"] for t, n in
                                                zip(light[name], light["nginx"])]),
                              "ratio_p99": med([t["p99"] / n["p99"] for t, n in
                                                zip(light[name], light["nginx"])]),
                              "runs": light[name]}
    t = out["tenantgate"]
    out["ratio_rps"], out["ratio_p50"], out["ratio_p99"] = t["ratio_rps"], t["ratio_p50"], t["ratio_p99"]
    out["ratio_cpu"] = t["ratio_cpu"]
    out["light_ratio_p50"], out["light_ratio_p99"] = t["light"]["ratio_p50"], t["light"]["ratio_p99"]
    save("proxy", out)
    labels = {"nginx": "nginx proxy_pass (1 worker, keepalive 64)",
              "tenantgate": "tenantgate full chain",
              "go2hop": "Go two hops (token ReverseProxy -> metricsql label ReverseProxy)"}
    print("\n### 1. Proxy throughput and latency (%d rounds x %d s, 64 connections, wrk -t1, "
          "alternating)\n" % (rounds, secs))
    print("| | req/s | ÷ nginx | p50 | p99 | p99 ÷ nginx | CPU per request | syscalls/request "
          "| non-2xx | socket errors |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in targets:
        o = out[name]
        print("| %s | %.0f | **%.2f** | %s | %s | **%.2f** | %.1f us | %.1f | %d | %d |" % (
            labels[name], o["rps"], o["ratio_rps"], fmt_ms(o["p50_us"]), fmt_ms(o["p99_us"]),
            o["ratio_p99"], o["cpu_us"], o["syscalls"], o["non2xx"], o["errors"]))
    if why:
        print("\nGo two-hop column skipped: %s" % why)
    print("\nRatios are medians of per-round ratios (each round runs every proxy back to back).")
    print("\nSame load at 4 connections (%d s per run, before each 64-connection run):" %
          max(2, secs // 2))
    for name in targets:
        li = out[name]["light"]
        print("- %s: %.0f req/s, p50 %s, p99 %s (p50 ÷ nginx %.2f, p99 ÷ nginx %.2f)" % (
            name, li["rps"], fmt_ms(li["p50_us"]), fmt_ms(li["p99_us"]), li["ratio_p50"],
            li["ratio_p99"]))
    print("\nsyscalls per request (strace -c -f, 2 s at 64 connections; CPU above is without strace):")
    for name in targets:
        print("- %s: %s" % (name, ", ".join("%s %.2f" % (k, v) for k, v in
                                            sorted(sc.get(name, {}).items(), key=lambda x: -x[1])
                                            if v >= 0.05 and k != "total")))
    print("\ntenantgate RSS after the runs: %.1f MiB" % (out["tg_rss_kib"] / 1024))
    for p in stops:
        p.stop()
    up.stop()
    return out


# ---------------------------------------------------------------- A/B of two builds

def syscalls_per_request(pids, url, secs=2):
    """strace -c -f of pid(s) during a short wrk run: {syscall: calls per request}."""
    pids = pids if isinstance(pids, list) else [pids]
    out = os.path.join(OUT, "strace-%d.txt" % pids[0])
    os.makedirs(OUT, exist_ok=True)
    # every thread: -p attaches to one task only, and Go runs its goroutines on several
    tids = [t for p in pids for t in os.listdir("/proc/%d/task" % p)]
    attach = [a for t in tids for a in ("-p", t)]
    st = subprocess.Popen(["strace", "-c", "-f", "-o", out] + attach,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    w = wrk(url, secs)
    st.terminate()
    st.wait(10)
    calls = {}
    with open(out) as f:
        for line in f:
            p = line.split()
            if len(p) >= 5 and p[-1].isidentifier() and p[3].isdigit():
                calls[p[-1]] = int(p[3]) / max(w["requests"], 1)
    return calls


def bench_ab(args):
    """Baseline build ($TG_BENCH_BASE_BIN) against this build, same load as `proxy`."""
    base_bin = os.environ.get("TG_BENCH_BASE_BIN")
    if not base_bin:
        sys.exit("ab: set TG_BENCH_BASE_BIN to the baseline tenantgate binary")
    rounds = args.rounds or (3 if args.quick else 6)
    secs = args.seconds or (4 if args.quick else 8)
    up, up_port = static_upstream()
    tgs = {"base": tenantgate("http://127.0.0.1:%d" % up_port, binary=base_bin, name="tg-base"),
           "new": tenantgate("http://127.0.0.1:%d" % up_port, name="tg-new")}
    for t in tgs.values():
        wrk(t.url, 2)
    sc = {}
    if shutil.which("strace"):
        for k, t in tgs.items():
            sc[k] = syscalls_per_request(t.pid, t.url)
    res = {k: [] for k in tgs}
    order = list(tgs)
    for i in range(rounds):
        for k in (order if i % 2 == 0 else order[::-1]):
            c0 = cpu_seconds(tgs[k].pid)
            w = wrk(tgs[k].url, secs)
            w["cpu_us_per_req"] = (cpu_seconds(tgs[k].pid) - c0) * 1e6 / max(w["requests"], 1)
            res[k].append(w)
            print("  round %d %-5s %8.0f req/s  p50 %s  p99 %s  CPU %.1f us/req" % (
                i + 1, k, w["rps"], fmt_ms(w["p50"]), fmt_ms(w["p99"]), w["cpu_us_per_req"]),
                flush=True)
    print("\n| build | req/s | p50 | p99 | CPU per request | syscalls/request |")
    print("|---|---:|---:|---:|---:|---|")
    for k in tgs:
        s = sc.get(k, {})
        print("| %s | %.0f | %s | %s | %.1f us | %s |" % (k, med([w["rps"] for w in res[k]]),
              fmt_ms(med([w["p50"] for w in res[k]])), fmt_ms(med([w["p99"] for w in res[k]])),
              med([w["cpu_us_per_req"] for w in res[k]]),
              ", ".join("%s %.2f" % (n, v) for n, v in sorted(s.items(), key=lambda x: -x[1])
                        if v >= 0.05 and n != "total")))
    rr = med([b["rps"] / a["rps"] for a, b in zip(res["base"], res["new"])])
    rp = med([b["p99"] / a["p99"] for a, b in zip(res["base"], res["new"])])
    rc = med([b["cpu_us_per_req"] / a["cpu_us_per_req"] for a, b in zip(res["base"], res["new"])])
    print("| new/base (median of per-round ratios) | **%.2f** | | **%.2f** | %.2f | |" % (rr, rp, rc))
    save("ab", {"res": res, "syscalls": sc, "ratio_rps": rr, "ratio_p99": rp})
    for t in tgs.values():
        t.stop()
    up.stop()


def bench_syscalls(args):
    """Syscalls per proxied request (strace -c -f), this build and, with TG_BENCH_BASE_BIN,
    the baseline: a count, unlike req/s, that a loaded machine does not change."""
    secs = args.seconds or 3
    up, up_port = static_upstream()
    bins = [("new", None)]
    if os.environ.get("TG_BENCH_BASE_BIN"):
        bins.insert(0, ("base", os.environ["TG_BENCH_BASE_BIN"]))
    out = {}
    for name, b in bins:
        t = tenantgate("http://127.0.0.1:%d" % up_port, binary=b, name="tg-sys-" + name)
        wrk(t.url, 2)  # warm-up: pool filled, caches warm
        out[name] = syscalls_per_request(t.pid, t.url, secs)
        t.stop()
    up.stop()
    save("syscalls", out)
    print("\n| build | syscalls per request (strace -c -f, wrk -c64, %d s) |" % secs)
    print("|---|---|")
    for name, _ in bins:
        s = out[name]
        total = sum(v for k, v in s.items() if k != "total")
        print("| %s | **%.1f**: %s |" % (name, total, ", ".join(
            "%s %.2f" % (k, v) for k, v in sorted(s.items(), key=lambda x: -x[1])
            if v >= 0.05 and k != "total")))
    return out


# ---------------------------------------------------------------- instructions

def callgrind_ir(binary, up_port, secs, conns=16):
    """Run `binary` under callgrind (collecting inside tg_server_run only) while
    wrk drives the proxy load; returns (instructions, requests, out file)."""
    d = subdir("callgrind")
    os.makedirs(OUT, exist_ok=True)
    out = os.path.join(OUT, "callgrind.out.%d" % len(os.listdir(OUT)))
    wrapper = os.path.join(d, "tg.sh")
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\nexec valgrind --tool=callgrind --collect-atstart=no "
                "--toggle-collect=tg_server_run --callgrind-out-file=%s %s \"$@\"\n"
                % (out, binary))
    os.chmod(wrapper, 0o755)
    t = tenantgate("http://127.0.0.1:%d" % up_port, binary=wrapper, name="tg-callgrind")
    w = wrk(t.url, secs, conns=conns)
    t.stop(timeout=60)
    with open(out) as f:
        m = re.search(r"^summary:\s*(\d+)", f.read(), re.M)
    return int(m.group(1)), w["requests"], out


def bench_instr(args):
    """Instructions per proxied request (callgrind): noise-free, unlike req/s on a shared box."""
    secs = args.seconds or (5 if args.quick else 10)
    up, up_port = static_upstream()
    bins = [("new", htg.BIN)]
    if os.environ.get("TG_BENCH_BASE_BIN"):
        bins.insert(0, ("base", os.environ["TG_BENCH_BASE_BIN"]))
    out = {}
    for name, b in bins:
        ir, n, f = callgrind_ir(b, up_port, secs)
        out[name] = {"ir": ir, "requests": n, "ir_per_request": ir / max(n, 1), "file": f}
        print("  %-4s %d requests, %.0f instructions/request" % (name, n, ir / max(n, 1)),
              flush=True)
        top = subprocess.run(["callgrind_annotate", "--inclusive=yes", f], capture_output=True,
                             text=True).stdout
        with open(os.path.join(OUT, "callgrind-%s.txt" % name), "w") as fo:
            fo.write(top)
    up.stop()
    save("instr", out)
    print("\n| build | instructions per request (callgrind, %d s of load) |" % secs)
    print("|---|---:|")
    for name, _ in bins:
        print("| %s | %.0f |" % (name, out[name]["ir_per_request"]))
    if "base" in out:
        print("| new/base | **%.2f** |" % (out["new"]["ir_per_request"] / out["base"]["ir_per_request"]))
    return out


# ---------------------------------------------------------------- profile

def perf_dso_split(pid, url, secs, name):
    """perf record (software cpu-clock) of pid during a wrk run; returns (req/s, perf.data path,
    [(percent, dso)])."""
    data = os.path.join(OUT, "perf-%s.data" % name)
    os.makedirs(OUT, exist_ok=True)
    perf = subprocess.Popen(["perf", "record", "-e", "cpu-clock", "-F", "2000", "-g",
                             "-o", data, "-p", str(pid), "--", "sleep", str(secs + 1)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    w = wrk(url, secs)
    perf.wait(timeout=secs + 60)
    rep = subprocess.run(["perf", "report", "-i", data, "--no-children", "--stdio", "--sort", "dso",
                          "-g", "none"], capture_output=True, text=True, timeout=300).stdout
    split = [(float(l.split("%")[0]), l.split("%", 1)[1].strip())
             for l in rep.splitlines() if re.match(r"^\s+[0-9.]+%", l)]
    return w["rps"], data, split


def bench_profile(args):
    """Where the CPU goes: perf (software cpu-clock) of tenantgate and of the nginx proxy under
    the proxy load, by library, tenantgate's top symbols, and syscalls per request (strace)."""
    secs = args.seconds or (5 if args.quick else 10)
    up, up_port = static_upstream()
    ngx, ngx_port = nginx_proxy(up_port)
    tg = tenantgate("http://127.0.0.1:%d" % up_port)
    targets = [("tenantgate", tg.pid, tg.url), ("nginx", ngx.pid, "http://127.0.0.1:%d" % ngx_port)]
    for _, _, url in targets:
        wrk(url, 2)
    out = {}
    for name, pid, url in targets:
        rps, data, split = perf_dso_split(pid, url, secs, name)
        sc = syscalls_per_request(pid, url) if shutil.which("strace") else {}
        out[name] = {"rps": rps, "split": split, "syscalls": sc}
        print("\n%s under perf: %.0f req/s; CPU by library: %s" % (
            name, rps, ", ".join("%s %.1f%%" % (os.path.basename(d), p) for p, d in split if p >= 0.5)))
        print("%s syscalls per request: %s" % (name, ", ".join(
            "%s %.2f" % (k, v) for k, v in sorted(sc.items(), key=lambda x: -x[1]) if v >= 0.01)))
        if name == "tenantgate":
            rep = subprocess.run(["perf", "report", "-i", data, "--no-children", "--stdio",
                                  "--percent-limit", "0.7", "-g", "none", "--sort", "dso,symbol"],
                                 capture_output=True, text=True, timeout=300)
            with open(os.path.join(OUT, "perf-flat.txt"), "w") as f:
                f.write(rep.stdout)
            print("top symbols (self):")
            print("\n".join(l.rstrip() for l in rep.stdout.splitlines()
                            if l and not l.startswith("#"))[:4000])
            rep = subprocess.run(["perf", "report", "-i", data, "--children", "--stdio",
                                  "--percent-limit", "2", "-g", "none", "--sort", "symbol"],
                                 capture_output=True, text=True, timeout=300)
            with open(os.path.join(OUT, "perf-children.txt"), "w") as f:
                f.write(rep.stdout)
            print("syscall wrappers (inclusive):")
            print("\n".join(l.rstrip() for l in rep.stdout.splitlines()
                            if re.search(r"\] (__GI___writev|__GI___readv|epoll_ctl|epoll_wait|"
                                         r"__GI___ioctl|__GI___libc_write)\s", l)))
    save("profile", out)
    tg.stop()
    ngx.stop()
    up.stop()


# ---------------------------------------------------------------- poll vs epoll

def bench_backend(args):
    """libevent's epoll backend (the default, with the changelist) against poll
    (EVENT_NOEPOLL=1): the proxy load at 64 connections while 1000 more keep-alive
    client connections sit idle, alternating; plus syscalls/request of each.
    poll has no epoll_ctl but hands the kernel every descriptor on every turn."""
    rounds = args.rounds or (2 if args.quick else 4)
    secs = args.seconds or (4 if args.quick else 8)
    idle = 0 if os.environ.get("TG_BENCH_NO_IDLE") else 1000
    up, up_port = static_upstream()
    envs = {"epoll": None, "poll": {"EVENT_NOEPOLL": "1"}}
    tgs, socks = {}, []
    for k, env in envs.items():
        tgs[k] = htg.TenantGate("http://127.0.0.1:%d" % up_port, name="tg-" + k, env=env)
        socks += open_idle_clients(tgs[k].port, idle, "/api/v1/query?query=up&namespace=alpha",
                                   False)
        wrk(tgs[k].url, 2)
    sc = {k: syscalls_per_request(t.pid, t.url) for k, t in tgs.items()} \
        if shutil.which("strace") else {}
    res = {k: [] for k in tgs}
    order = list(tgs)
    for i in range(rounds):
        for k in (order if i % 2 == 0 else order[::-1]):
            c0 = cpu_seconds(tgs[k].pid)
            w = wrk(tgs[k].url, secs)
            w["cpu_us_per_req"] = (cpu_seconds(tgs[k].pid) - c0) * 1e6 / max(w["requests"], 1)
            res[k].append(w)
            print("  round %d %-5s %8.0f req/s  p99 %s  CPU %.1f us/req  non-2xx %d" % (
                i + 1, k, w["rps"], fmt_ms(w["p99"]), w["cpu_us_per_req"], w["status"]), flush=True)
    rss = {k: rss_kib(t.pid) for k, t in tgs.items()}
    print("\n| backend (%d idle keep-alive connections + wrk -c64) | req/s | p99 | CPU per request "
          "| syscalls/request | RSS |" % idle)
    print("|---|---:|---:|---:|---|---:|")
    for k in tgs:
        s = sc.get(k, {})
        print("| %s | %.0f | %s | %.1f us | **%.1f**: %s | %.1f MiB |" % (
            k, med([w["rps"] for w in res[k]]), fmt_ms(med([w["p99"] for w in res[k]])),
            med([w["cpu_us_per_req"] for w in res[k]]),
            sum(v for n, v in s.items() if n != "total"),
            ", ".join("%s %.2f" % (n, v) for n, v in sorted(s.items(), key=lambda x: -x[1])
                      if v >= 0.05 and n != "total"), rss[k] / 1024))
    rr = med([b["rps"] / a["rps"] for a, b in zip(res["epoll"], res["poll"])])
    rc = med([b["cpu_us_per_req"] / a["cpu_us_per_req"] for a, b in zip(res["epoll"], res["poll"])])
    print("| poll/epoll (median of per-round ratios) | **%.2f** | | %.2f | | |" % (rr, rc))
    save("backend", {"idle": idle, "res": res, "syscalls": sc, "ratio_rps": rr, "ratio_cpu": rc})
    for s_ in socks:
        s_.close()
    for t in tgs.values():
        t.stop()
    up.stop()


# ---------------------------------------------------------------- 2. memory

def read_answer(s):
    """Read one HTTP/1.1 answer with a Content-Length; raise unless 200."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise RuntimeError("connection closed before the answer")
        buf += chunk
    head, body = buf.split(b"\r\n\r\n", 1)
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError("answer: %r" % head[:200])
    m = re.search(rb"(?i)content-length:\s*(\d+)", head)
    need = int(m.group(1)) if m else 0
    while len(body) < need:
        chunk = s.recv(65536)
        if not chunk:
            raise RuntimeError("short body")
        body += chunk


def open_idle_clients(port, n, path, burst):
    """n keep-alive connections that each made one request and read its answer.
    burst: all n requests in flight at once; else one connection after the other."""
    socks = []
    req = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer alice-token\r\n\r\n"
           % path).encode()
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(req)
        if not burst:
            read_answer(s)
        socks.append(s)
    if burst:
        for s in socks:
            read_answer(s)
    return socks


def bench_memory(args):
    reps = 1 if args.quick else 3
    up, up_port = static_upstream()
    path = "/api/v1/query?query=up&namespace=alpha"
    rows = {"sequential": [], "burst": []}
    base_bin = os.environ.get("TG_BENCH_BASE_BIN")
    if base_bin:
        rows.update({"base sequential": [], "base burst": []})
    for i in range(reps):
        for mode in rows:
            tg = tenantgate("http://127.0.0.1:%d" % up_port,
                            binary=base_bin if mode.startswith("base") else None)
            time.sleep(0.5)
            idle0 = rss_kib(tg.pid)
            for s in open_idle_clients(tg.port, 1, path, False):  # one-time allocations
                s.close()
            time.sleep(0.3)
            idle1 = rss_kib(tg.pid)
            socks = open_idle_clients(tg.port, 1000, path, mode.endswith("burst"))
            time.sleep(1.0)
            held = rss_kib(tg.pid)
            time.sleep(1.5)  # a sweep (1 s) later
            held2 = rss_kib(tg.pid)
            fds = len(os.listdir("/proc/%d/fd" % tg.pid))
            for s in socks:
                s.close()
            time.sleep(1.5)
            after = rss_kib(tg.pid)
            rows[mode].append({"idle_start": idle0, "idle_after_1": idle1, "with_1000": held,
                               "with_1000_later": held2, "after_close": after, "fds": fds})
            print("  rep %d %-10s: idle %d KiB, after 1 request %d KiB, 1000 idle conns %d KiB, "
                  "%.1f s later %d KiB (%d fds), after close %d KiB"
                  % (i + 1, mode, idle0, idle1, held, 1.5, held2, fds, after), flush=True)
            tg.stop()
    up.stop()
    out = {m: {k: med([r[k] for r in rows[m]]) for k in rows[m][0]} for m in rows}
    out["runs"] = rows
    save("memory", out)
    q, b = out["sequential"], out["burst"]
    print("\n### 2. Memory (VmRSS, median of %d fresh starts per column)\n" % reps)
    print("| state | sequential: one connection after the other | burst: 1000 requests in flight at once |")
    print("|---|---:|---:|")
    row = lambda label, k, bold=False: print("| %s | %s%.1f MiB%s | %s%.1f MiB%s |" % (
        label, "**" if bold else "", q[k] / 1024, "**" if bold else "",
        "**" if bold else "", b[k] / 1024, "**" if bold else ""))
    row("idle, just started", "idle_start")
    row("idle, after one request", "idle_after_1")
    row("1000 idle keep-alive client connections, 1 s after the last answer", "with_1000")
    row("the same, 2.5 s after", "with_1000_later", True)
    print("| per idle connection | %.1f KiB | %.1f KiB |" % (
        (q["with_1000_later"] - q["idle_after_1"]) / 1000,
        (b["with_1000_later"] - b["idle_after_1"]) / 1000))
    row("after the 1000 closed", "after_close")
    if base_bin:
        print("\nBaseline build %s, same run: sequential %.1f MiB, burst %.1f MiB with 1000 idle "
              "connections (2.5 s after)." % (base_bin, out["base sequential"]["with_1000_later"] / 1024,
                                              out["base burst"]["with_1000_later"] / 1024))
    return out


# ---------------------------------------------------------------- 3. streaming

def slow_read(port, path, rate, limit_bytes, result):
    """GET path, read the body at `rate` bytes/s (token bucket); result dict filled."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 256 * 1024)
    s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer alice-token\r\n"
               "Connection: close\r\n\r\n" % path).encode())
    t0 = time.monotonic()
    got = 0
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(65536)
    head, rest = head.split(b"\r\n\r\n", 1)
    result["head"] = head.decode("latin-1").split("\r\n")[0]
    chunked = b"chunked" in head.lower()
    got = len(rest)
    deadline = t0 + limit_bytes / rate * 3 + 30
    while got < limit_bytes and time.monotonic() < deadline:
        ahead = got / rate - (time.monotonic() - t0)
        if ahead > 0:
            time.sleep(ahead)
        chunk = s.recv(256 * 1024)
        if not chunk:
            break
        got += len(chunk)
    result["bytes"] = got
    result["seconds"] = time.monotonic() - t0
    result["chunked"] = chunked
    s.close()


def bench_stream(args):
    size = (256 << 20) if args.quick else (1 << 30)
    rate = 50e6
    up, up_port = static_upstream()
    tg = tenantgate("http://127.0.0.1:%d" % up_port)
    # the static upstream serves the 1 GiB file for /api/v1/query_range
    path = "/api/v1/query_range?query=up&start=0&end=1&step=1&namespace=alpha"
    time.sleep(0.5)
    base = rss_kib(tg.pid)
    samp = RssSampler(tg.pid, 0.1)
    samp.start()
    res = {}
    slow_read(tg.port, path, rate, size, res)
    samp.stop()
    peak = max(v for _, v in samp.samples)
    end = samp.samples[-1][1]
    out = {"bytes_read": res["bytes"], "seconds": res["seconds"],
           "rate_MBps": res["bytes"] / res["seconds"] / 1e6, "status": res["head"],
           "rss_before_kib": base, "rss_peak_kib": peak, "rss_end_kib": end,
           "growth_kib": peak - base, "samples": len(samp.samples)}
    save("stream", out)
    tg.stop()
    up.stop()
    print("\n### 3. Streaming (%s through tenantgate, client reads at %.0f MB/s)\n"
          % ("%d MiB" % (size >> 20), rate / 1e6))
    print("| | |")
    print("|---|---:|")
    print("| answer | %s |" % out["status"])
    print("| bytes read / time | %.0f MiB in %.1f s (%.1f MB/s) |"
          % (out["bytes_read"] / 2**20, out["seconds"], out["rate_MBps"]))
    print("| RSS before | %.1f MiB |" % (base / 1024))
    print("| RSS peak (every 100 ms, %d samples) | %.1f MiB |" % (len(samp.samples), peak / 1024))
    print("| **RSS growth** | **%.2f MiB** |" % ((peak - base) / 1024))
    return out


# ---------------------------------------------------------------- 4. promql

def bench_promql(args):
    secs, runs = (1, 3) if args.quick else (2, 5)
    cmd = [os.path.join(BUILD, "bench_promql"), CORPUS, str(secs), str(runs)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    print("\n### 4. PromQL (`%s`)\n" % " ".join(cmd))
    print("```\n" + out.stdout.strip() + "\n```")
    save("promql", {"cmd": cmd, "stdout": out.stdout, "rc": out.returncode})
    return out.stdout


# ---------------------------------------------------------------- 5. load

# Every answer keeps the namespace label, so the check below sees the tenant's data only.
LOAD_QUERIES = [
    'up',
    'rate(http_requests_total[5m])',
    'sum by (namespace, pod) (rate(http_requests_total[5m]))',
    'histogram_quantile(0.9, sum by (namespace, le) (rate(http_request_duration_seconds_bucket[5m])))',
    'count by (namespace) (tenant_secret_info)',
]


def bench_load(args):
    from harness.prom import Prometheus
    secs = args.seconds or (20 if args.quick else 60)
    early = 5 if args.quick else 10
    prom = Prometheus(exporter=False)
    tg = tenantgate(prom.url)
    qf = os.path.join(subdir("load"), "queries.txt")
    with open(qf, "w") as f:
        f.write("\n".join(LOAD_QUERIES) + "\n")
    for q in LOAD_QUERIES:  # each query answers with data for alpha only
        r = tg.get("/api/v1/query", query={"query": q, "namespace": "alpha"}, token="alice-token")
        assert r.status == 200, r
        res = r.json()["data"]["result"]
        assert res and all(x["metric"].get("namespace") == "alpha" for x in res), (q, res)
    samp = RssSampler(tg.pid, 0.5)
    samp.start()
    w = wrk(tg.url, secs, conns=256, queries=qf)
    samp.stop()
    # baseline: the same load straight at Prometheus and through tenantgate, alternating
    bsecs, brounds = (5, 1) if args.quick else (10, 2)
    base_runs = {"direct": [], "again": []}
    for i in range(brounds):
        for k in (("direct", "again") if i % 2 == 0 else ("again", "direct")):
            base_runs[k].append(wrk(prom.url if k == "direct" else tg.url, bsecs, conns=256,
                                    queries=qf))
    direct = {"rps": med([x["rps"] for x in base_runs["direct"]]),
              "p99": med([x["p99"] for x in base_runs["direct"]]), "runs": base_runs["direct"]}
    again = {"rps": med([x["rps"] for x in base_runs["again"]]),
             "p99": med([x["p99"] for x in base_runs["again"]]), "runs": base_runs["again"]}
    out = {"seconds": secs, "conns": 256, "rps": w["rps"], "requests": w["requests"],
           "non2xx": w["status"], "socket_errors": w["errors"], "p50_us": w["p50"],
           "p99_us": w["p99"], "rss_early_kib": samp.at(early), "rss_end_kib": samp.samples[-1][1],
           "rss_max_kib": max(v for _, v in samp.samples), "early_s": early,
           "prom_rss_kib": rss_kib(prom.proc.pid), "direct": direct, "again": again}
    save("load", out)
    tg.stop()
    prom.stop()
    print("\n### 5. Load test (%d s, 256 connections, real Prometheus 2.42)\n" % secs)
    print("| | |")
    print("|---|---:|")
    print("| requests | %d (%.0f req/s) |" % (w["requests"], w["rps"]))
    print("| latency p50 / p99 | %s / %s |" % (fmt_ms(w["p50"]), fmt_ms(w["p99"])))
    print("| non-2xx / socket errors | **%d / %d** |" % (w["status"], w["errors"]))
    print("| RSS at %d s / at %d s / max | %.1f / %.1f / %.1f MiB |"
          % (early, secs, out["rss_early_kib"] / 1024, out["rss_end_kib"] / 1024,
             out["rss_max_kib"] / 1024))
    print("\nBaseline right after, %d alternating round(s) of %d s each: Prometheus directly "
          "%.0f req/s (p99 %s), through tenantgate %.0f req/s (p99 %s): ratio %.2f." % (
              brounds, bsecs, direct["rps"], fmt_ms(direct["p99"]), again["rps"],
              fmt_ms(again["p99"]), again["rps"] / direct["rps"]))
    return out


# ---------------------------------------------------------------- keep-alive latency

def bench_keepalive(args):
    """Sequential requests on one keep-alive connection through tenantgate to the
    fake upstream (echo). evhttp writes a response's head and body in two sends;
    without TCP_NODELAY on the client socket the body waited for the client's
    delayed ACK, and about 7% of such requests took 40 ms more. Reported: the
    latency distribution and how many requests took over 35 ms (the symptom)."""
    from harness import fake_upstream
    n = 300 if args.quick else 3000
    up = fake_upstream.FakeUpstream()
    up.mode = "echo"
    tg = tenantgate(up.url)
    c = tg.conn()
    lat = []
    try:
        for _ in range(n):
            t0 = time.perf_counter()
            c.request("GET", "/api/v1/query?query=up&namespace=alpha",
                      headers={"Authorization": "Bearer alice-token"})
            r = c.getresponse()
            r.read()
            assert r.status == 200, r.status
            lat.append((time.perf_counter() - t0) * 1e6)
    finally:
        c.close()
        tg.stop()
        up.stop()
    lat.sort()
    slow = sum(1 for x in lat if x > 35000)
    out = {"requests": n, "p50_us": lat[n // 2], "p99_us": lat[int(n * 0.99)],
           "max_us": lat[-1], "over_35ms": slow}
    save("keepalive", out)
    print("\n### Keep-alive latency (%d sequential requests, one connection, fake upstream)\n" % n)
    print("| p50 | p99 | max | over 35 ms |")
    print("|---:|---:|---:|---:|")
    print("| %s | %s | %s | %d (%.1f%%) |" % (fmt_ms(out["p50_us"]), fmt_ms(out["p99_us"]),
                                           fmt_ms(out["max_us"]), slow, 100.0 * slow / n))
    return out


# ---------------------------------------------------------------- main

BENCHES = {"proxy": bench_proxy, "memory": bench_memory, "stream": bench_stream,
           "promql": bench_promql, "load": bench_load, "profile": bench_profile,
           "ab": bench_ab, "instr": bench_instr, "syscalls": bench_syscalls,
           "keepalive": bench_keepalive, "backend": bench_backend}
DEFAULT = ["proxy", "memory", "stream", "promql", "load"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--seconds", type=int)
    ap.add_argument("names", nargs="*")
    args = ap.parse_args()
    names = args.names or DEFAULT
    for n in names:
        if n not in BENCHES:
            ap.error("unknown benchmark %s (have: %s)" % (n, " ".join(BENCHES)))
    if htg.sanitized():
        sys.exit("%s is a sanitizer build: benchmark a Release build" % htg.BIN)
    try:
        for n in names:
            print("== %s (%s)" % (n, time.strftime("%H:%M:%S")), flush=True)
            BENCHES[n](args)
            hproc.cleanup(keep_dir=True)
            hproc._PROCS.clear()
    except Exception:
        hproc.dump_logs(tail=30)
        raise
    finally:
        hproc.cleanup()


if __name__ == "__main__":
    main()
