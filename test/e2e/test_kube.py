#!/usr/bin/env python3
"""E2E: the Kubernetes client + decision cache against the fake API server
over real TLS, driven through test/tools/tg_kubecheck.c.

Env: TG_BUILD_DIR (where tg_kubecheck is), TG_SOURCE_DIR.
"""
import base64
import json
import os
import queue
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "fakekube"))
import fakekube  # noqa: E402

BUILD = os.environ.get("TG_BUILD_DIR", os.path.join(HERE, "..", "..", "build"))
DRIVER = os.path.join(BUILD, "tg_kubecheck")

POLICY = {
    "callers": ["kc-token", "sa-token-1", "sa-token-2"],
    "caller_cns": ["tenantgate"],
    "api_audiences": ["https://kubernetes.default.svc"],
    "tokens": {
        "tok-alice": {"username": "alice", "uid": "u-alice", "groups": ["team-a"],
                      "extra": {"scopes": ["read", "write"]}, "audiences": ["tenantgate"]},
        "tok-bob": {"username": "system:serviceaccount:alpha:grafana", "uid": "u-bob",
                    "groups": ["system:serviceaccounts", "team-b"], "audiences": ["tenantgate"]},
        "tok-otheraud": {"username": "carol", "audiences": ["other"]},
        "tok-liar": {"username": "mallory", "report_audiences": ["other"]},
    },
    "rules": [
        {"groups": ["team-a"], "namespaces": ["alpha"], "verbs": ["get"], "resources": ["pods"]},
        {"groups": ["team-b"], "namespaces": ["alpha", "beta"], "verbs": ["get"],
         "resources": ["pods"]},
    ],
}


class Driver:
    """tg_kubecheck as a subprocess speaking its line protocol."""

    def __init__(self, args, env=None):
        e = dict(os.environ)
        e.update(env or {})
        self.p = subprocess.Popen([DRIVER] + args, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=e)
        self.lines = queue.Queue()
        self.stderr = []
        threading.Thread(target=self._pump, args=(self.p.stdout, self.lines), daemon=True).start()
        threading.Thread(target=self._pump_err, daemon=True).start()
        first = self.read(10)
        if first != "ready":
            raise AssertionError(f"driver did not start: {first!r} {self.stderr}")

    @staticmethod
    def _pump(f, q):
        for line in f:
            q.put(line.rstrip("\n"))
        q.put(None)

    def _pump_err(self):
        for line in self.p.stderr:
            self.stderr.append(line.rstrip("\n"))

    def crash_report(self):
        """The sanitizer report if there is one, else the last lines."""
        for i, line in enumerate(self.stderr):
            if "ERROR: AddressSanitizer" in line or "runtime error" in line:
                return "\n".join(self.stderr[i:i + 25])
        return "\n".join(self.stderr[-5:])

    def read(self, timeout=20):
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"driver silent for {timeout}s; stderr: {self.stderr[-5:]}")
        if line is None:
            raise AssertionError(f"driver exited; stderr: {self.crash_report()}")
        return line

    def cmd(self, line, timeout=20):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        return self.read(timeout)

    def check(self, token, ns, timeout=20):
        out = self.cmd(f"check c {token} {ns}", timeout)
        fields = dict(kv.split("=", 1) for kv in out.split(" ", 5)[1:5])
        fields["reason"] = out.split(" reason=", 1)[1] if " reason=" in out else ""
        return fields

    def stats(self):
        out = self.cmd("stats")
        assert out.startswith("stats "), out
        return json.loads(out[6:])

    def close(self):
        try:
            self.p.stdin.write("quit\n")
            self.p.stdin.flush()
            self.p.wait(10)
        except (BrokenPipeError, subprocess.TimeoutExpired):
            self.p.kill()
            self.p.wait()
        rc = self.p.returncode
        for f in (self.p.stdin, self.p.stdout, self.p.stderr):
            try:
                f.close()
            except OSError:
                pass
        return rc


def wait_for(pred, what, timeout=20):
    """Poll pred() until true (an event), failing after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def b64file(path):
    with open(path, "rb") as f:
        return base64.b64encode(f.read()).decode()


class KubeE2E(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # a missing driver is a failure, not a skip: CI builds it with the rest
        if not os.path.exists(DRIVER):
            raise AssertionError(f"{DRIVER} not built: build the tests first "
                                 f"(cmake --build build, target tg_kubecheck; TG_BUILD_DIR "
                                 f"names the build directory)")
        cls.dir = tempfile.mkdtemp(prefix="tgkube-e2e-")
        fakekube.make_pki(cls.dir)
        fakekube.make_ca(cls.dir, "otherca")
        cls.fk = fakekube.FakeKube(cls.dir, json.loads(json.dumps(POLICY))).start()
        cls.ctl = ssl.create_default_context(cafile=f"{cls.dir}/ca.crt")

    @classmethod
    def tearDownClass(cls):
        cls.fk.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def setUp(self):
        self.fk.state.reset()
        self.fk.state.policy = json.loads(json.dumps(POLICY))
        self.drivers = []

    def tearDown(self):
        for d in self.drivers:  # non-zero: a sanitizer report (leaks are found at exit)
            rc = d.close()
            self.assertEqual(rc, 0, d.crash_report())

    # -- helpers --

    def control(self, path, obj=None):
        url = f"https://127.0.0.1:{self.fk.port}{path}"
        data = json.dumps(obj).encode() if obj is not None else None
        req = urllib.request.Request(url, data=data, method="POST" if data else "GET")
        with urllib.request.urlopen(req, context=self.ctl, timeout=10) as r:
            return json.loads(r.read())

    def kubeconfig(self, name="kc", user=None, cluster_extra=None, ca="ca"):
        cluster = {"server": f"https://127.0.0.1:{self.fk.port}",
                   "certificate-authority-data": b64file(f"{self.dir}/{ca}.crt")}
        cluster.update(cluster_extra or {})
        kc = {"apiVersion": "v1", "kind": "Config", "current-context": "test",
              "clusters": [{"name": "fake", "cluster": cluster}],
              "contexts": [{"name": "test", "context": {"cluster": "fake", "user": "me"}}],
              "users": [{"name": "me", "user": user or {"token": "kc-token"}}]}
        path = f"{self.dir}/{name}.yaml"
        with open(path, "w") as f:  # JSON is YAML
            json.dump(kc, f)
        return path

    def driver(self, *args, kubeconfig=None, env=None):
        base = ["--audience", "tenantgate"]
        if kubeconfig is not False:
            base += ["--kubeconfig", kubeconfig or self.kubeconfig()]
        d = Driver(base + list(args), env)
        self.drivers.append(d)
        return d

    # -- tests --

    def test_allowed_forbidden_unauthenticated_audience(self):
        d = self.driver()
        r = d.check("tok-alice", "alpha")
        self.assertEqual((r["authn"], r["authz"], r["user"]), ("ok", "ok", "alice"))
        r = d.check("tok-alice", "beta")
        self.assertEqual((r["authn"], r["authz"]), ("ok", "denied"))
        r = d.check("tok-nobody", "alpha")
        self.assertEqual((r["authn"], r["authz"]), ("denied", "-"))
        self.assertIn("invalid bearer token", r["reason"])
        r = d.check("tok-otheraud", "alpha")  # the API server refuses the audience
        self.assertEqual(r["authn"], "denied")
        r = d.check("tok-liar", "alpha")  # answered authenticated, wrong audiences
        self.assertEqual(r["authn"], "denied")
        self.assertIn("audiences", r["reason"])
        st = self.fk.state.stats()
        self.assertEqual(st["tokenreviews"], 4)
        self.assertEqual(st["sars"], 2)
        self.assertEqual(st["callers"], {"kc-token": 6})
        # all answers cached: no new API calls
        for tok, ns in (("tok-alice", "alpha"), ("tok-alice", "beta"), ("tok-nobody", "alpha")):
            d.check(tok, ns)
        st2 = self.fk.state.stats()
        self.assertEqual((st2["tokenreviews"], st2["sars"]), (4, 2))
        self.assertEqual(d.stats()["connects"], 1)  # one keep-alive connection did it all

    def test_client_certificate_and_tls_verification(self):
        kc = self.kubeconfig("cert", user={
            "client-certificate-data": b64file(f"{self.dir}/client.crt"),
            "client-key-data": b64file(f"{self.dir}/client.key")})
        d = self.driver(kubeconfig=kc)
        r = d.check("tok-alice", "alpha")
        self.assertEqual((r["authn"], r["authz"]), ("ok", "ok"))
        self.assertEqual(self.fk.state.stats()["last_caller"], "cn:tenantgate")

        # a server name the certificate has
        d = self.driver(kubeconfig=self.kubeconfig("sni", cluster_extra={
            "tls-server-name": "fakekube.test"}))
        self.assertEqual(d.check("tok-alice", "alpha")["authn"], "ok")

        # wrong CA, wrong name: TLS fails, the answer is an error (503), not 401
        for name, extra, ca in (("badca", None, "otherca"),
                                ("badname", {"tls-server-name": "wrong.test"}, "ca")):
            d = self.driver("--retries", "0", kubeconfig=self.kubeconfig(
                name, cluster_extra=extra, ca=ca))
            r = d.check("tok-alice", "alpha")
            self.assertEqual(r["authn"], "error", name)
            self.assertIn("TLS", r["reason"], name)

    def test_api_down_error_then_recovery(self):
        d = self.driver("--retries", "1", "--backoff-ms", "20", "--timeout-ms", "3000")
        self.control("/_fake/config", {"fail": "500", "fail_count": -1})
        r = d.check("tok-alice", "alpha")
        self.assertEqual(r["authn"], "error")
        self.assertIn("500", r["reason"])
        self.assertEqual(self.fk.state.stats()["injected"], 2)  # first try + 1 retry
        self.control("/_fake/config", {"fail": None})
        r = d.check("tok-alice", "alpha")  # errors are not cached
        self.assertEqual((r["authn"], r["authz"]), ("ok", "ok"))

        self.control("/_fake/config", {"fail": "drop", "fail_count": -1})
        r = d.check("tok-bob", "alpha")
        self.assertEqual(r["authn"], "error")
        self.control("/_fake/config", {"fail": None})
        self.assertEqual(d.check("tok-bob", "alpha")["authz"], "ok")

        # the server really gone (connection refused), then back on the same port
        port = self.fk.port
        self.fk.stop()
        try:
            r = d.check("tok-bob", "beta")
            self.assertEqual(r["authz"], "error")
        finally:
            type(self).fk = fakekube.FakeKube(self.dir, self.fk.state.policy, port=port).start()
        self.assertEqual(d.check("tok-bob", "beta")["authz"], "ok")
        s = d.stats()
        self.assertGreaterEqual(s["errors"], 3)
        self.assertGreaterEqual(s["status_5xx"], 2)

    def test_api_slow_timeout(self):
        d = self.driver("--timeout-ms", "400")
        # the API server holds the review until released: only the client's
        # own deadline can end the call (the read guard, 8 s, is far above
        # 400 ms and below the 10 s default the flag replaces)
        self.control("/_fake/config", {"hold": True})
        r = d.check("tok-alice", "alpha", timeout=8)
        self.assertEqual(r["authn"], "error")
        self.assertIn("timeout", r["reason"])
        self.assertEqual(d.stats()["timeouts"], 1)
        self.assertEqual(self.fk.state.stats()["answered"], 0)
        # the late answer arrives after the client gave up: wait until the
        # API server has sent it, then the next call works
        self.control("/_fake/release", {})
        wait_for(lambda: self.fk.state.stats()["held"] == 0
                 and self.fk.state.stats()["answered"] >= 1, "late answer sent")
        self.assertEqual(d.check("tok-alice", "alpha")["authz"], "ok")

    def test_429_retry_after(self):
        d = self.driver("--backoff-ms", "10")
        self.control("/_fake/config", {"fail": "429", "fail_count": 1, "retry_after": 1})
        t0 = time.monotonic()
        r = d.check("tok-alice", "alpha")
        elapsed = time.monotonic() - t0
        self.assertEqual((r["authn"], r["authz"]), ("ok", "ok"))
        self.assertGreaterEqual(elapsed, 0.9)  # Retry-After: 1 honoured
        s = d.stats()
        self.assertEqual(s["status_429"], 1)
        self.assertEqual(s["retries"], 1)

    def test_own_token_rotation(self):
        sa = f"{self.dir}/sa"
        os.makedirs(sa, exist_ok=True)
        shutil.copy(f"{self.dir}/ca.crt", f"{sa}/ca.crt")
        with open(f"{sa}/token", "w") as f:
            f.write("sa-token-1\n")
        env = {"KUBERNETES_SERVICE_HOST": "127.0.0.1",
               "KUBERNETES_SERVICE_PORT": str(self.fk.port), "TG_SA_DIR": sa}
        d = self.driver("--token-reload-ms", "200", kubeconfig=False, env=env)
        self.assertEqual(d.check("tok-alice", "alpha")["authz"], "ok")
        self.assertEqual(self.fk.state.stats()["last_caller"], "sa-token-1")
        with open(f"{sa}/token.tmp", "w") as f:  # atomic, like the kubelet's symlink swap
            f.write("sa-token-2\n")
        os.rename(f"{sa}/token.tmp", f"{sa}/token")
        # the client re-reads the file at its first call once the period
        # (200 ms here) has passed: a lower bound, whatever the machine's load
        time.sleep(0.4)
        self.assertEqual(d.stats()["token_reloads"], 0)  # nothing asked yet: not re-read
        self.assertEqual(d.check("tok-bob", "alpha")["authz"], "ok")
        st = self.fk.state.stats()
        self.assertEqual(st["last_caller"], "sa-token-2")
        self.assertEqual(set(st["callers"]), {"sa-token-1", "sa-token-2"})
        self.assertEqual(d.stats()["token_reloads"], 1)

        # revoked before the periodic re-read: 401 -> re-read at once -> retry
        d2 = self.driver("--token-reload-ms", "600000", kubeconfig=False, env=env)
        self.assertEqual(d2.check("tok-alice", "alpha")["authz"], "ok")
        self.fk.state.policy["callers"] = ["sa-token-3"]
        with open(f"{sa}/token", "w") as f:
            f.write("sa-token-3")
        r = d2.check("tok-bob", "beta")
        self.assertEqual(r["authz"], "ok", r)
        self.assertEqual(self.fk.state.stats()["unauthorized"], 1)
        self.assertEqual(d2.stats()["token_reloads"], 1)

    def test_100_concurrent_identical_requests(self):
        d = self.driver()
        self.control("/_fake/config", {"delay_ms": 200})  # keep the first call in flight
        out = d.cmd("par p1 100 tok-bob alpha")
        self.assertEqual(out, "p1 n=100 ok=100 denied=0 unauth=0 error=0")
        st = self.fk.state.stats()
        print(f"\n100 concurrent cold requests -> {st['tokenreviews']} TokenReview, "
              f"{st['sars']} SubjectAccessReview", file=sys.stderr)
        self.assertEqual((st["tokenreviews"], st["sars"]), (1, 1))
        s = d.stats()
        self.assertEqual(s["coalesced"], 198)
        out = d.cmd("par p2 100 tok-bob alpha")  # warm: all hits
        self.assertEqual(out, "p2 n=100 ok=100 denied=0 unauth=0 error=0")
        st = self.fk.state.stats()
        self.assertEqual((st["tokenreviews"], st["sars"]), (1, 1))
        self.assertEqual(d.stats()["hits"], 200)

    def test_rate_limit(self):
        d = self.driver("--qps", "5", "--burst", "1")
        t0 = time.monotonic()
        for ns in ("n1", "n2", "n3", "n4", "n5"):  # 1 TokenReview + 5 SARs = 6 calls
            d.check("tok-alice", ns)
        elapsed = time.monotonic() - t0
        self.assertGreaterEqual(elapsed, 0.9)  # 6 calls at 5/s with a bucket of 1
        self.assertGreaterEqual(d.stats()["throttled"], 4)


if __name__ == "__main__":
    unittest.main(verbosity=2)
