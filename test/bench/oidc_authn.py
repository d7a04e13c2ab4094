#!/usr/bin/env python3
"""Benchmark (not a test): what a cached OIDC token costs next to a static token.

tenantgate runs under callgrind (collecting inside tg_server_run only, counters
zeroed after a warm-up request) while one keep-alive client sends N identical
/api/v1/query requests with one credential:

  static-short  a token of the --token-auth-file, 11 characters
  static-long   a token of the --token-auth-file as long as the JWT
  oidc-cached   an RS256 ID token of the stand-in issuer, verified once (warm-up), then cached

It prints instructions per request for the whole request (tg_server_run) and for the
authn stage alone (tg_stage_authn, inclusive), and the ratios to the static tokens.

    python3 test/bench/oidc_authn.py [N]        # TG_BIN=build/tenantgate by default
"""
import http.client
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, "../.."))
sys.path.insert(0, os.path.join(SRC, "test/e2e"))
os.environ.setdefault("TG_BUILD_DIR", os.path.join(SRC, "build"))

from harness import fake_upstream, oidc_issuer, proc, tg  # noqa: E402
from harness.proc import subdir, wait_until  # noqa: E402


def run(kind, token, iss, up, tokens, n):
    d = subdir("callgrind-" + kind)
    out = os.path.join(d, "callgrind.out")
    wrapper = os.path.join(d, "tg.sh")
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\nexec valgrind --tool=callgrind --collect-atstart=no "
                "--toggle-collect=tg_server_run --callgrind-out-file=%s %s \"$@\"\n"
                % (out, tg.BIN))
    os.chmod(wrapper, 0o755)
    cfg = tg.config_yaml(rules=[("alpha", "alice", None), ("alpha", "oidc:alice@example.com", None)])
    tg.BIN, saved = wrapper, tg.BIN
    try:
        g = tg.TenantGate(up.url, tokens=tokens, config=cfg, name="tg-" + kind, ready_timeout=60,
                          extra_args=["--access-log=false", "--oidc-issuer=" + iss.url,
                                      "--oidc-clientID=tenantgate", "--oidc-ca-file=" + iss.ca_file,
                                      "--oidc-username-prefix=oidc:"])
    finally:
        tg.BIN = saved
    c = http.client.HTTPConnection(g.host, g.port, timeout=60)
    path = "/api/v1/query?query=up&namespace=alpha"
    hdrs = {"Authorization": "Bearer " + token}

    def get():
        c.request("GET", path, headers=hdrs)
        r = c.getresponse()
        r.read()
        return r.status

    wait_until(lambda: get() == 200, 60, "warm-up request answered 200")
    subprocess.run(["callgrind_control", "-z", str(g.pid)], check=True, capture_output=True)
    for _ in range(n):
        assert get() == 200
    c.close()
    g.stop(timeout=60)
    text = open(out).read()
    total = int(re.search(r"^summary:\s*(\d+)", text, re.M).group(1))
    ann = subprocess.run(["callgrind_annotate", "--inclusive=yes", out], capture_output=True,
                         text=True).stdout
    m = re.search(r"^\s*([\d,]+)\s.*tg_stage_authn", ann, re.M)
    authn = int(m.group(1).replace(",", "")) if m else 0
    return total / n, authn / n


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 400
    iss = oidc_issuer.OIDCIssuer(subdir("issuer"))
    jwt = iss.mint(exp=int(oidc_issuer.time.time()) + 3600)
    up = fake_upstream.FakeUpstream()
    tokens = dict(tg.TOKENS)
    long_token = ("L" * len(jwt))
    tokens[long_token] = ("alice", "1001", ["devs"])
    res = {}
    for kind, tok in (("static-short", "alice-token"), ("static-long", long_token),
                      ("oidc-cached", jwt)):
        res[kind] = run(kind, tok, iss, up, tokens, n)
        print("  %-13s %8.0f instructions/request, %6.0f in tg_stage_authn"
              % ((kind,) + res[kind]), flush=True)
    up.stop()
    iss.stop()
    print("\n| credential (%d requests, token %d bytes) | instructions / request | "
          "of which authn stage |" % (n, len(jwt)))
    print("|---|---:|---:|")
    for kind in res:
        print("| %s | %.0f | %.0f |" % ((kind,) + res[kind]))
    for base in ("static-short", "static-long"):
        print("| oidc-cached / %s | **%.2f** | %.2f |"
              % (base, res["oidc-cached"][0] / res[base][0], res["oidc-cached"][1] / res[base][1]))
    proc.cleanup()


if __name__ == "__main__":
    main()
