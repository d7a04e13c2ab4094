#!/usr/bin/env python3
"""E2E: the Kubernetes part through the real tenantgate binary.

tenantgate runs with --kubeconfig (or in-cluster discovery from the
environment) pointing at fakekube: real HTTPS with a CA made at test time,
real TokenReview / SubjectAccessReview JSON, an RBAC-like policy, counters of
every API call and the bearer token the proxy used. Behind tenantgate: the
fake upstream (echo) where data does not matter, a real Prometheus with
generated data for the seed-config test.

Every test asserts the API call counters, not only the HTTP status: a cache
that never caches, or a proxy that never asks, fails here.
"""
import http.client
import json
import os
import shutil
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "fakekube"))
from harness import check_error, check_success, main  # noqa: E402
import harness  # noqa: E402
from harness import fake_upstream, prom, tg  # noqa: E402
from harness.proc import subdir, wait_until  # noqa: E402
import fakekube  # noqa: E402

# The seed config (kube-rbac-proxy's format) as manifests/base ships it, used verbatim.
with open(os.path.join(harness.TG_SOURCE_DIR, "manifests", "base", "config.yaml")) as _f:
    SEED_CONFIG = _f.read()

ALICE, BOB, CAROL, MALLORY = "k-alice", "k-bob", "k-carol", "k-mallory"
AUDIENCE = "tenantgate"


def rbac(groups, namespaces, verbs=("get",), resources=("namespace/metrics",)):
    return {"groups": list(groups), "namespaces": list(namespaces), "verbs": list(verbs),
            "resources": list(resources)}


POLICY = {
    # bearer tokens the proxy itself may use toward the API server
    "callers": ["proxy-token-1", "sa-token-1"],
    "api_audiences": ["https://kubernetes.default.svc"],
    "tokens": {
        ALICE: {"username": "alice", "uid": "u-alice", "groups": ["team-alpha"],
                "audiences": [AUDIENCE]},
        BOB: {"username": "bob", "uid": "u-bob", "groups": ["team-beta"],
              "audiences": [AUDIENCE]},
        CAROL: {"username": "carol", "uid": "u-carol", "groups": ["team-alpha", "team-beta"],
                "extra": {"scopes": ["metrics"]}, "audiences": [AUDIENCE]},
        # RBAC on the resource without the subresource: must not be enough
        MALLORY: {"username": "mallory", "uid": "u-mallory", "groups": ["team-gamma"],
                  "audiences": [AUDIENCE]},
        "k-otheraud": {"username": "olga", "groups": ["team-alpha"], "audiences": ["other"]},
        "k-liar": {"username": "liam", "groups": ["team-alpha"], "report_audiences": ["other"]},
    },
    "rules": [
        rbac(["team-alpha"], ["alpha"]),
        rbac(["team-beta"], ["beta"]),
        rbac(["team-gamma"], ["gamma"], resources=["namespace"]),
    ],
}


def fresh_policy():
    return json.loads(json.dumps(POLICY))


def proxy_config(cache=None, kube=None):
    """The seed config plus tenantgate's own `cache:` / `kubernetes:` sections."""
    out = SEED_CONFIG
    for name, sec in (("cache", cache), ("kubernetes", kube)):
        if sec:
            out += name + ":\n" + "".join("  %s: %s\n" % kv for kv in sec.items())
    return out


def sar_specs(st):
    return [r["spec"] for r in st["reviews"] if r["kind"] == "subjectaccessreviews"]


def tr_specs(st):
    return [r["spec"] for r in st["reviews"] if r["kind"] == "tokenreviews"]


class KubeProxyBase(unittest.TestCase):
    """One fakekube + one fake upstream per class; one tenantgate per test
    (a cold cache each time), stopped at the end of the test with exit code 0
    (under ASan a leak makes it non-zero)."""

    @classmethod
    def setUpClass(cls):
        cls.dir = subdir("fakekube")
        fakekube.make_pki(cls.dir)
        cls.fk = fakekube.FakeKube(cls.dir, fresh_policy()).start()
        cls.up = fake_upstream.FakeUpstream()
        cls.up.mode = "echo"

    @classmethod
    def tearDownClass(cls):
        cls.fk.stop()
        cls.up.stop()

    def setUp(self):
        self.fk.state.reset()
        self.fk.state.policy = fresh_policy()
        self.up.reset_state()
        self.up.mode = "echo"
        self.gates = []

    def tearDown(self):
        for g in self.gates:
            rc = g.stop()
            self.assertEqual(rc, 0, "tenantgate exit code %r (sanitizer report?)\n%s"
                             % (rc, g.proc.log()[-3000:]))

    # -- helpers --

    def kubeconfig(self, name="kubeconfig", user=None):
        kc = {"apiVersion": "v1", "kind": "Config", "current-context": "test",
              "clusters": [{"name": "fake", "cluster": {
                  "server": "https://127.0.0.1:%d" % self.fk.port,
                  "certificate-authority": os.path.join(self.dir, "ca.crt")}}],
              "contexts": [{"name": "test", "context": {"cluster": "fake", "user": "me"}}],
              "users": [{"name": "me", "user": user or {"token": "proxy-token-1"}}]}
        path = os.path.join(self.dir, name + ".yaml")
        with open(path, "w") as f:  # JSON is YAML
            json.dump(kc, f)
        return path

    def gate(self, config=None, args=(), kubeconfig=True, audiences=(AUDIENCE,), env=None,
             upstream=None):
        extra = list(args)
        if kubeconfig:
            extra += ["--kubeconfig", kubeconfig if isinstance(kubeconfig, str)
                      else self.kubeconfig()]
        if audiences:
            extra += ["--auth-token-audiences", ",".join(audiences)]
        g = tg.TenantGate(upstream or self.up.url, tokens=None,
                          config=config or proxy_config(), extra_args=extra, env=env,
                          name="tenantgate-kube")
        self.gates.append(g)
        return g

    def query(self, g, token, nss=("alpha",), method="GET", expr="up", **kw):
        p = [("query", expr)] + [("namespace", n) for n in nss]
        if method == "GET":
            return g.get("/api/v1/query", p, token=token, **kw)
        return g.post("/api/v1/query", form=p, token=token, **kw)

    def counts(self):
        st = self.fk.state.stats()
        return st["tokenreviews"], st["sars"]

    def assertCounts(self, tr, sar, msg=""):
        self.assertEqual(self.counts(), (tr, sar), "(TokenReviews, SARs) %s" % msg)

    def assertEnforced(self, r, *nss):
        """200, and the upstream saw the query restricted to exactly nss."""
        j = check_success(self, r)
        seen = dict(j["data"]["params"] + j["data"]["form"])["query"]
        if len(nss) == 1:
            self.assertIn('namespace="%s"' % nss[0], seen)
        else:
            for ns in nss:
                self.assertIn(ns, seen)
            self.assertIn("namespace=~", seen)
        return seen


class Decisions(KubeProxyBase):
    def test_allowed_forbidden_unauthenticated(self):
        g = self.gate()
        self.assertEnforced(self.query(g, ALICE, ["alpha"]), "alpha")
        self.assertCounts(1, 1)
        st = self.fk.state.stats()
        self.assertEqual(st["callers"], {"proxy-token-1": 2})  # the kubeconfig's token
        self.assertEqual(tr_specs(st)[0], {"token": ALICE, "audiences": [AUDIENCE]})
        sar = sar_specs(st)[0]
        self.assertEqual(sar["user"], "alice")
        self.assertEqual(sar["uid"], "u-alice")
        self.assertEqual(sar["groups"], ["team-alpha"])
        self.assertEqual(sar["resourceAttributes"],
                         {"namespace": "alpha", "verb": "get", "version": "v1",
                          "resource": "namespace", "subresource": "metrics"})

        # forbidden: 403 naming the namespace, upstream never reached
        n_up = self.up.count()
        r = self.query(g, ALICE, ["beta"])
        check_error(self, r, 403, "forbidden", contains="beta")
        self.assertCounts(1, 2)  # the TokenReview came from the cache
        # RBAC on namespace but not namespace/metrics is not enough
        r = self.query(g, MALLORY, ["gamma"])
        check_error(self, r, 403, "forbidden", contains="gamma")
        self.assertCounts(2, 3)

        # unauthenticated: unknown token, no token
        r = self.query(g, "k-nobody", ["alpha"])
        check_error(self, r, 401, "unauthorized")
        self.assertTrue(r.header("WWW-Authenticate"), "401 without WWW-Authenticate")
        self.assertCounts(3, 3)  # no SAR for a stranger
        r = self.query(g, None, ["alpha"])
        check_error(self, r, 401, "unauthorized")
        self.assertCounts(3, 3)  # nothing to ask
        self.assertEqual(self.up.count(), n_up)

        # every answer is cached: the same questions again cost nothing
        for tok, ns, code in ((ALICE, "alpha", 200), (ALICE, "beta", 403),
                              (MALLORY, "gamma", 403), ("k-nobody", "alpha", 401)):
            self.assertEqual(self.query(g, tok, [ns]).status, code, (tok, ns))
        self.assertCounts(3, 3)
        self.assertEqual(self.up.count(), n_up + 1)

    def test_wrong_audience(self):
        g = self.gate()
        # the API server refuses a token minted for another audience
        check_error(self, self.query(g, "k-otheraud"), 401, "unauthorized")
        # an authenticator that ignores spec.audiences: tenantgate checks them itself
        r = self.query(g, "k-liar")
        check_error(self, r, 401, "unauthorized", contains="audience")
        self.assertCounts(2, 0)
        self.assertEqual(self.up.count(), 0)

        # without --auth-token-audiences the API server's own audiences apply,
        # and a token minted only for tenantgate is refused
        g2 = self.gate(audiences=())
        check_error(self, self.query(g2, ALICE), 401, "unauthorized")
        spec = tr_specs(self.fk.state.stats())[-1]
        self.assertEqual(spec["token"], ALICE)
        self.assertFalse(spec.get("audiences"), spec)

    def test_several_namespaces_one_forbidden(self):
        g = self.gate()
        r = self.query(g, ALICE, ["alpha", "beta"])
        check_error(self, r, 403, "forbidden", contains="beta")
        self.assertEqual(self.up.count(), 0)
        # one SAR per namespace, asked concurrently; a cancelled waiter does
        # not cancel the API call (its answer fills the cache)
        wait_until(lambda: self.counts() == (1, 2), 5, "2 SARs")
        self.assertEqual(sorted(s["resourceAttributes"]["namespace"]
                                for s in sar_specs(self.fk.state.stats())), ["alpha", "beta"])
        # order does not matter, and the answers are cached
        check_error(self, self.query(g, ALICE, ["beta", "alpha"]), 403, contains="beta")
        self.assertCounts(1, 2)

        # someone allowed both: one request, two SARs, one upstream query for both
        self.assertEnforced(self.query(g, CAROL, ["alpha", "beta"]), "alpha", "beta")
        self.assertCounts(2, 4)
        self.assertEqual(self.up.count(), 1)
        sar = sar_specs(self.fk.state.stats())[-1]
        self.assertEqual(sar["extra"], {"scopes": ["metrics"]})

    def test_post_is_verb_get(self):
        g = self.gate()
        self.assertEnforced(self.query(g, ALICE, ["alpha"], method="POST"), "alpha")
        self.assertEqual(sar_specs(self.fk.state.stats())[0]["resourceAttributes"]["verb"],
                         "get")
        # a GET of the same thing is the same decision: served from the cache
        self.assertEnforced(self.query(g, ALICE, ["alpha"]), "alpha")
        self.assertCounts(1, 1)

    def test_verb_mode_http_post_is_create(self):
        g = self.gate(args=["--verb-mode=http"])
        r = self.query(g, ALICE, ["alpha"], method="POST")
        check_error(self, r, 403, "forbidden", contains="create")
        self.assertEqual(sar_specs(self.fk.state.stats())[0]["resourceAttributes"]["verb"],
                         "create")
        self.assertEnforced(self.query(g, ALICE, ["alpha"]), "alpha")  # GET -> get
        self.assertEqual(sar_specs(self.fk.state.stats())[1]["resourceAttributes"]["verb"],
                         "get")
        self.assertCounts(1, 2)
        self.fk.state.policy["rules"].append(rbac(["team-beta"], ["beta"], verbs=["create"]))
        self.assertEnforced(self.query(g, BOB, ["beta"], method="POST"), "beta")


class Cache(KubeProxyBase):
    def poll_until_asked(self, g, token, nss, since, allowed=True):
        """Query until the answer is not served from the cache any more (the
        counters move): an entry's expiry is the event waited for. Every
        answer until then is the cached one. Returns the seconds from `since`
        (taken before the entry was made) to the answer that moved them, which
        can only be at least the TTL."""
        before = self.counts()

        def asked():
            r = self.query(g, token, nss)
            if allowed:
                self.assertEnforced(r, *nss)
            return self.counts() != before
        wait_until(asked, 30, "a cache entry expired", interval=0.1)
        return time.monotonic() - since

    def test_ttl_hit_then_miss(self):
        # within the TTLs (10 minutes: no clock reaches them here) nothing is asked again
        g = self.gate(proxy_config(cache={"authnTTL": "10m", "allowTTL": "10m"}))
        self.assertEnforced(self.query(g, ALICE), "alpha")
        self.assertCounts(1, 1)
        for _ in range(10):
            self.assertEnforced(self.query(g, ALICE), "alpha")
        self.assertCounts(1, 1)
        m = g.metrics()
        self.assertIn("tenantgate_authn_cache_hits_total 10", m)
        self.assertIn("tenantgate_authz_cache_hits_total 10", m)
        self.assertIn("tenantgate_authn_cache_misses_total 1", m)
        self.assertIn("tenantgate_authz_cache_misses_total 1", m)

        # a 1 s TTL next to a 10 minute one: only the short one expires
        for authn, allow, moved in (("1s", "10m", (1, 0)), ("10m", "1s", (0, 1))):
            with self.subTest(authnTTL=authn, allowTTL=allow):
                g = self.gate(proxy_config(cache={"authnTTL": authn, "allowTTL": allow}))
                tr, sar = self.counts()
                t0 = time.monotonic()
                self.assertEnforced(self.query(g, ALICE), "alpha")
                self.assertCounts(tr + 1, sar + 1)
                took = self.poll_until_asked(g, ALICE, ("alpha",), t0)
                self.assertCounts(tr + 1 + moved[0], sar + 1 + moved[1])
                self.assertGreaterEqual(took, 1.0, "asked again before the 1s TTL")

    def test_deny_and_unauthenticated_ttl(self):
        g = self.gate(proxy_config(cache={"denyTTL": "1s", "unauthnTTL": "1s",
                                          "allowTTL": "10m", "authnTTL": "10m"}))
        t0 = time.monotonic()
        check_error(self, self.query(g, ALICE, ["beta"]), 403, contains="beta")
        check_error(self, self.query(g, "k-new"), 401)
        self.assertCounts(2, 1)
        # the API server changes its mind: alice may read beta, k-new exists;
        # the negative answers stay cached until their 1 s TTL
        self.fk.state.policy["rules"].append(rbac(["team-alpha"], ["beta"]))
        self.fk.state.policy["tokens"]["k-new"] = {"username": "nina", "groups": ["team-alpha"],
                                                   "audiences": [AUDIENCE]}

        def cached_until_allowed(token, nss):
            r = self.query(g, token, nss)
            if r.status == 200:
                self.assertEnforced(r, *nss)
                return time.monotonic() - t0
            check_error(self, r, 403 if token == ALICE else 401)
            return None
        took = wait_until(lambda: cached_until_allowed(ALICE, ["beta"]), 30,
                          "the deny entry expired", interval=0.1)
        self.assertGreaterEqual(took, 1.0, "denial forgotten before denyTTL")
        took = wait_until(lambda: cached_until_allowed("k-new", ["alpha"]), 30,
                          "the unauthenticated entry expired", interval=0.1)
        self.assertGreaterEqual(took, 1.0, "401 forgotten before unauthnTTL")
        self.assertCounts(3, 3)
        # positive answers use their own (long) TTLs: cached now
        self.assertEnforced(self.query(g, ALICE, ["beta"]), "beta")
        self.assertEnforced(self.query(g, "k-new", ["alpha"]), "alpha")
        self.assertCounts(3, 3)

    def test_max_entries_zero_disables_caching(self):
        # docs/config.md: "maxEntries ... (0 disables caching)"
        g = self.gate(proxy_config(cache={"maxEntries": 0}))
        for i in range(3):
            self.assertEnforced(self.query(g, ALICE), "alpha")
            self.assertCounts(i + 1, i + 1)

    def test_100_parallel_cold_requests_coalesce(self):
        g = self.gate()
        self.fk.state.configure({"delay_ms": 300})  # keep the first calls in flight
        n = 100

        def burst():
            results = [None] * n
            barrier = threading.Barrier(n)

            def one(i):
                c = http.client.HTTPConnection(g.host, g.port, timeout=30)
                try:
                    c.connect()
                    barrier.wait(10)
                    c.request("GET", "/api/v1/query?query=up&namespace=alpha",
                              headers={"Authorization": "Bearer " + ALICE})
                    r = c.getresponse()
                    r.read()
                    results[i] = r.status
                except Exception as e:  # noqa: BLE001 - reported below
                    results[i] = repr(e)
                finally:
                    c.close()

            ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
            for t in ts:
                t.start()
            for t in ts:
                t.join(60)
            return results

        res = burst()
        self.assertEqual(res, [200] * n)
        print("\n%d parallel cold requests -> %d TokenReview, %d SubjectAccessReview"
              % ((n,) + self.counts()), file=sys.stderr)
        self.assertCounts(1, 1)
        self.assertEqual(self.up.count(), n)
        m = g.metrics()
        self.assertIn("tenantgate_cache_coalesced_waits_total %d" % (2 * (n - 1)), m)
        self.assertIn("tenantgate_authn_cache_misses_total 1", m)
        self.assertIn("tenantgate_authz_cache_misses_total 1", m)
        res = burst()  # warm: all from the cache
        self.assertEqual(res, [200] * n)
        self.assertCounts(1, 1)
        m = g.metrics()
        self.assertIn("tenantgate_authn_cache_hits_total %d" % n, m)
        self.assertIn("tenantgate_authz_cache_hits_total %d" % n, m)


class Failures(KubeProxyBase):
    def restart_fakekube(self, port):
        type(self).fk = fakekube.FakeKube(self.dir, self.fk.state.policy, port=port).start()

    def test_api_down_503_then_recovery(self):
        g = self.gate(proxy_config(kube={"retries": 1, "timeout": "3s"}))
        # 500s: 503, never 401 or 200, for the TokenReview ...
        self.fk.state.configure({"fail": "500", "fail_count": -1})
        r = self.query(g, ALICE)
        check_error(self, r, 503, "unavailable", contains="500")
        self.assertEqual(self.fk.state.stats()["injected"], 2)  # first try + 1 retry
        # ... and for the SAR once the token is known
        self.fk.state.configure({"fail": None})
        self.fk.state.configure({"fail": "500", "fail_count": -1,
                                 "fail_kinds": ["subjectaccessreviews"]})
        check_error(self, self.query(g, ALICE), 503, "unavailable")
        check_error(self, self.query(g, BOB, ["beta"]), 503, "unavailable")
        self.assertEqual(self.up.count(), 0)
        # recovery without a restart: errors were not cached
        self.fk.state.configure({"fail": None, "fail_kinds": None})
        self.assertEnforced(self.query(g, ALICE), "alpha")
        self.assertEnforced(self.query(g, BOB, ["beta"]), "beta")

        # connections dropped mid-request
        self.fk.state.configure({"fail": "drop", "fail_count": -1})
        check_error(self, self.query(g, CAROL), 503, "unavailable")
        self.fk.state.configure({"fail": None})
        self.assertEnforced(self.query(g, CAROL), "alpha")

        # the API server gone (connection refused), then back on the same port
        port = self.fk.port
        policy = self.fk.state.policy
        self.fk.stop()
        try:
            # refused at once, not after the 3s call deadline
            j = check_error(self, self.query(g, MALLORY, ["gamma"]), 503, "unavailable")
            self.assertNotIn("timeout", j["error"])
            # cached answers keep working while the API server is away
            self.assertEnforced(self.query(g, ALICE), "alpha")
        finally:
            self.restart_fakekube(port)
            self.fk.state.policy = policy
        self.fk.state.policy["rules"].append(rbac(["team-gamma"], ["gamma"]))
        self.assertEnforced(self.query(g, MALLORY, ["gamma"]), "gamma")
        m = g.metrics()
        self.assertIn('tenantgate_kube_api_errors_total{call="tokenreview",code="500"} 2', m)
        self.assertIn('tenantgate_kube_api_errors_total{call="subjectaccessreview",code="500"} 4',
                      m)
        # dropped connections and connection refused: no response at all
        self.assertRegex(m, r'tenantgate_kube_api_errors_total\{call="tokenreview",code="0"\} '
                            r'[1-9]')

    def test_api_slow_timeout_503(self):
        g = self.gate(proxy_config(kube={"timeout": "1s"}))
        # the API server holds the review until released: only the 1 s
        # deadline can end the call (the client's read guard is 30 s)
        self.fk.state.configure({"hold": True})
        r = self.query(g, ALICE)
        check_error(self, r, 503, "unavailable", contains="timeout")
        self.assertEqual(self.fk.state.stats()["answered"], 0)
        # the late answer of the abandoned call changes nothing; the next asks again
        self.fk.state.release()
        wait_until(lambda: self.fk.state.stats()["held"] == 0
                   and self.fk.state.stats()["answered"] >= 1, 10, "late answer sent")
        self.assertEnforced(self.query(g, ALICE), "alpha")
        self.assertCounts(2, 1)
        self.assertEqual(self.up.count(), 1)

    def test_own_token_rotates_on_disk(self):
        tokfile = os.path.join(self.dir, "proxy-token")
        with open(tokfile, "w") as f:
            f.write("proxy-token-1\n")
        g = self.gate(kubeconfig=self.kubeconfig("kc-tokenfile", user={"tokenFile": tokfile}))
        self.assertEnforced(self.query(g, ALICE), "alpha")
        self.assertEqual(self.fk.state.stats()["callers"], {"proxy-token-1": 2})
        # the token is rotated and the old one revoked at once (before the
        # 60s periodic re-read): the 401 makes tenantgate re-read the file
        self.fk.state.policy["callers"] = ["proxy-token-2"]
        with open(tokfile + ".tmp", "w") as f:  # atomic, like the kubelet
            f.write("proxy-token-2\n")
        os.rename(tokfile + ".tmp", tokfile)
        self.assertEnforced(self.query(g, BOB, ["beta"]), "beta")
        st = self.fk.state.stats()
        self.assertEqual(st["unauthorized"], 1)
        self.assertEqual(st["callers"], {"proxy-token-1": 2, "proxy-token-2": 2})
        self.assertEqual(st["last_caller"], "proxy-token-2")

        # a static kubeconfig token refused: 503 (our credentials), never 401 to the user
        g2 = self.gate(kubeconfig=self.kubeconfig("kc-revoked", user={"token": "proxy-token-1"}))
        r = self.query(g2, CAROL)
        check_error(self, r, 503, "unavailable", contains="401")


class TokenPeriodicReload(KubeProxyBase):
    def test_own_token_reread_every_60s(self):
        """Graceful rotation (old token still valid): no 401 ever, the file
        is re-read on the 60 s period (client-go's). Takes a minute."""
        self.fk.state.policy["callers"] = ["proxy-token-1", "proxy-token-2"]
        tokfile = os.path.join(self.dir, "proxy-token-periodic")
        with open(tokfile, "w") as f:
            f.write("proxy-token-1\n")
        g = self.gate(kubeconfig=self.kubeconfig("kc-periodic", user={"tokenFile": tokfile}))
        # the file was read before /healthz answered: from here on, 60 s is
        # at least the re-read period, however long the start took
        started = time.monotonic()
        self.assertEnforced(self.query(g, ALICE), "alpha")
        with open(tokfile + ".tmp", "w") as f:
            f.write("proxy-token-2\n")
        os.rename(tokfile + ".tmp", tokfile)
        self.assertEnforced(self.query(g, BOB, ["beta"]), "beta")  # cold: asks the API
        self.assertEqual(self.fk.state.stats()["callers"], {"proxy-token-1": 4})
        time.sleep(max(0, started + 60.5 - time.monotonic()))
        self.assertEnforced(self.query(g, CAROL, ["beta"]), "beta")
        st = self.fk.state.stats()
        self.assertEqual(st["callers"], {"proxy-token-1": 4, "proxy-token-2": 2})
        self.assertEqual(st["unauthorized"], 0)
        self.assertIn("changed, using the new token", g.proc.log())


class InCluster(KubeProxyBase):
    def sa_dir(self, name, token, ca=True):
        d = os.path.join(self.dir, name)
        os.makedirs(d)
        with open(os.path.join(d, "token"), "w") as f:
            f.write(token)
        if ca:
            shutil.copy(os.path.join(self.dir, "ca.crt"), os.path.join(d, "ca.crt"))
        return d

    def env(self, sa):
        return {"KUBERNETES_SERVICE_HOST": "127.0.0.1",
                "KUBERNETES_SERVICE_PORT": str(self.fk.port), "TG_SA_DIR": sa}

    def test_in_cluster_discovery(self):
        sa = self.sa_dir("sa", "sa-token-1")
        g = self.gate(kubeconfig=False, env=self.env(sa))
        self.assertEnforced(self.query(g, ALICE), "alpha")
        check_error(self, self.query(g, BOB), 403, contains="alpha")
        st = self.fk.state.stats()
        self.assertEqual(st["callers"], {"sa-token-1": 4})
        self.assertCounts(2, 2)
        self.assertIn("in-cluster", g.proc.log())

        # the service account token rotates (old one revoked): re-read after the 401
        self.fk.state.policy["callers"] = ["sa-token-2"]
        with open(os.path.join(sa, "token"), "w") as f:
            f.write("sa-token-2")
        self.assertEnforced(self.query(g, CAROL, ["beta"]), "beta")
        self.assertEqual(self.fk.state.stats()["last_caller"], "sa-token-2")

    def test_in_cluster_server_certificate_is_verified(self):
        # no ca.crt: the system trust store does not know the test CA -> 503
        sa = self.sa_dir("sa-noca", "sa-token-1", ca=False)
        g = self.gate(kubeconfig=False, env=self.env(sa),
                      config=proxy_config(kube={"retries": 0}))
        check_error(self, self.query(g, ALICE), 503, "unavailable", contains="TLS")
        self.assertCounts(0, 0)
        self.assertEqual(self.up.count(), 0)


class Metrics(KubeProxyBase):
    def test_kube_client_metrics(self):
        g = self.gate()
        self.assertEnforced(self.query(g, ALICE), "alpha")
        check_error(self, self.query(g, ALICE, ["beta"]), 403)
        m = g.metrics()
        self.assertIn('tenantgate_kube_api_request_duration_seconds_count{call="tokenreview"} 1',
                      m)
        self.assertIn('tenantgate_kube_api_request_duration_seconds_count'
                      '{call="subjectaccessreview"} 2', m)
        self.assertIn("tenantgate_authn_cache_misses_total 1", m)
        self.assertIn("tenantgate_authn_cache_hits_total 1", m)
        self.assertIn("tenantgate_authz_cache_misses_total 2", m)
        self.assertNotIn("tenantgate_kube_api_errors_total{", m)


class SeedConfigPrometheus(KubeProxyBase):
    """The seed config verbatim, RBAC on namespace/metrics get, a real
    Prometheus with data: each tenant sees its namespaces and nothing else."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.prom = prom.Prometheus(exporter=False)
            cls.prom.wait_fresh()
        except Exception:
            super().tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.prom.stop()
        super().tearDownClass()

    def instant(self, g, token, expr, nss, method="GET"):
        p = [("query", expr), ("time", str(self.prom.end))] + [("namespace", n) for n in nss]
        if method == "GET":
            r = g.get("/api/v1/query", p, token=token)
        else:
            r = g.post("/api/v1/query", form=p, token=token)
        return check_success(self, r)["data"]["result"]

    def test_tenants_see_only_their_namespaces(self):
        g = self.gate(config=SEED_CONFIG, upstream=self.prom.url)
        with open(g.config_file) as f:
            self.assertEqual(f.read(), SEED_CONFIG)  # verbatim, nothing added

        # alice: tenant_secret_info{} asks for everything, gets alpha's only
        res = self.instant(g, ALICE, "tenant_secret_info", ["alpha"])
        self.assertEqual({s["metric"]["secret"] for s in res}, {"alpha-s3cr3t"})
        self.assertEqual({s["metric"]["namespace"] for s in res}, {"alpha"})
        # an explicit other namespace in the query is replaced (prom-label-proxy)
        res = self.instant(g, ALICE, 'tenant_secret_info{namespace="beta"}', ["alpha"])
        self.assertEqual({s["metric"]["secret"] for s in res}, {"alpha-s3cr3t"})
        # beta's own metric is invisible to alice, alpha's visible (POST too)
        self.assertEqual(self.instant(g, ALICE, "beta_only_widgets", ["alpha"]), [])
        self.assertTrue(self.instant(g, ALICE, "alpha_only_widgets", ["alpha"], method="POST"))
        res = self.instant(g, ALICE, "count by (namespace) ({__name__=~\".+\"})", ["alpha"])
        self.assertEqual({s["metric"].get("namespace") for s in res}, {"alpha"})

        # bob: beta only; alice may not read beta
        res = self.instant(g, BOB, "tenant_secret_info", ["beta"])
        self.assertEqual({s["metric"]["secret"] for s in res}, {"beta-s3cr3t"})
        check_error(self, g.get("/api/v1/query", [("query", "up"), ("namespace", "beta")],
                                token=ALICE), 403, "forbidden", contains="beta")
        # carol: both, and the data of both
        res = self.instant(g, CAROL, "tenant_secret_info", ["alpha", "beta"])
        self.assertEqual({s["metric"]["secret"] for s in res}, {"alpha-s3cr3t", "beta-s3cr3t"})
        # mallory: RBAC on namespace, not namespace/metrics
        check_error(self, g.get("/api/v1/query", [("query", "up"), ("namespace", "gamma")],
                                token=MALLORY), 403, "forbidden", contains="gamma")

        # the same values as Prometheus gives for the enforced query directly
        direct = self.prom.api("/api/v1/query", query='tenant_secret_info{namespace="alpha"}',
                               time=str(self.prom.end))["data"]["result"]
        via = self.instant(g, ALICE, "tenant_secret_info", ["alpha"])
        key = lambda s: json.dumps(s, sort_keys=True)  # noqa: E731
        self.assertEqual(sorted(map(key, via)), sorted(map(key, direct)))

        # series / query_range through the same decisions
        r = g.get("/api/v1/series", [("match[]", "tenant_secret_info"), ("namespace", "beta"),
                                     ("start", str(self.prom.start)), ("end", str(self.prom.end))],
                  token=BOB)
        self.assertEqual({s["namespace"] for s in check_success(self, r)["data"]}, {"beta"})

        # 4 tokens, 6 (user, namespace) pairs: each asked once
        st = self.fk.state.stats()
        self.assertEqual((st["tokenreviews"], st["sars"]), (4, 6), st["reviews"][-6:])
        for s in sar_specs(st):
            a = s["resourceAttributes"]
            self.assertEqual((a["verb"], a["resource"], a["subresource"], a["version"]),
                             ("get", "namespace", "metrics", "v1"))
            self.assertEqual(a["namespace"] in ("alpha", "beta", "gamma"), True)


if __name__ == "__main__":
    main()
