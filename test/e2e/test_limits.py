#!/usr/bin/env python3
"""Per-tenant limits (the config's limits: section) end to end: tenantgate in
front of a stand-in upstream that holds the requests it is told to hold until
the test lets them go, and counts how many it holds at once. Nothing here
waits for a time: every step waits for an event (a response, the upstream
holding n requests, a gauge on /metrics, a line in the log).

Cases: 10 concurrent requests with maxInflight 2 + maxQueued 2 (the upstream
never holds more than 2, 4 succeed, 6 get 429 with Retry-After while the
upstream still holds the first two), another tenant served meanwhile, a
request for two tenants counting against both, rate with burst, each window
guard just below and just above its limit (maxQueryLength, maxLookback on
query, query_range and match[] routes), blocked queries as written and as
printed, refused queries never reaching the upstream, metrics and the access
log, SIGHUP changing a tenant's limit, a client leaving the queue, the queue
timeout, SIGTERM answering queued requests with 503."""
import http.client
import json
import os
import re
import signal
import socket
import sys
import threading
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check_error, check_success, main  # noqa: E402
from harness import fake_upstream, tg  # noqa: E402
from harness.proc import wait_until  # noqa: E402

ALICE, BOB, CAROL = "alice-token", "bob-token", "carol-token"
DAY = 86400


def config(limits):
    return tg.config_yaml() + limits


def metrics(gate):
    """{(name, frozenset(labels.items())): value} of /metrics."""
    out = {}
    for line in gate.metrics().splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$', line)
        if not m:
            continue
        labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        out[(m.group(1), frozenset(labels.items()))] = float(m.group(3))
    return out


def metric(gate, name, **labels):
    return metrics(gate).get((name, frozenset(labels.items())), 0.0)


def wait_metric(gate, name, value, **labels):
    wait_until(lambda: metric(gate, name, **labels) == value, 20,
               "%s%r == %s" % (name, labels, value), proc=gate.proc)


class Flight:
    """Requests sent at once from threads; responses collected as they come."""

    def __init__(self, gate):
        self.gate = gate
        self.cond = threading.Condition()
        self.responses = []
        self.threads = []

    def send(self, token, query, ns="alpha", path="/api/v1/query", extra=()):
        def run():
            try:
                r = self.gate.get(path, [("query", query)] + [("namespace", n) for n in
                                                               ns.split(",")] + list(extra),
                                  token=token, timeout=60)
            except Exception as e:  # noqa: BLE001 - recorded, asserted by the test
                r = e
            with self.cond:
                self.responses.append(r)
                self.cond.notify_all()
        t = threading.Thread(target=run, daemon=True)
        t.start()
        self.threads.append(t)

    def wait(self, n, what="responses"):
        with self.cond:
            if not self.cond.wait_for(lambda: len(self.responses) >= n, 30):
                raise AssertionError("%d %s, want %d" % (len(self.responses), what, n))
            return list(self.responses)

    def join(self):
        for t in self.threads:
            t.join(60)


def raw_request(gate, target, token):
    """A request on a socket of our own (so that the test can close it)."""
    s = socket.create_connection((gate.host, gate.port), timeout=30)
    s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n"
               % (target, token)).encode())
    return s


def qtarget(query, ns="alpha", **extra):
    params = [("query", query), ("namespace", ns)] + sorted(extra.items())
    return "/api/v1/query?" + urllib.parse.urlencode(params)


class GateCase(unittest.TestCase):
    """One stand-in upstream and one tenantgate with the class's LIMITS for all its tests."""
    LIMITS = ""
    NAME = "tg"

    @classmethod
    def setUpClass(cls):
        cls.up = fake_upstream.FakeUpstream()
        cls.gate = tg.TenantGate(cls.up.url, config=config(cls.LIMITS), name=cls.NAME)

    @classmethod
    def tearDownClass(cls):
        cls.gate.stop()
        cls.up.stop()


class Concurrency(GateCase):
    """maxInflight + maxQueued + the FIFO queue, with the upstream holding alpha's requests."""

    NAME = "tg-conc"
    LIMITS = ("limits:\n"
              "  defaults: {maxInflight: 2, maxQueued: 2, queueTimeout: 60s}\n"
              "  tenants:\n"
              "    beta: {maxInflight: 1, maxQueued: 0}\n")

    def setUp(self):
        self.up.reset_state()
        self.up.mode = "hold"
        self.up.hold_match = 'namespace="alpha"'

    def tearDown(self):
        self.up.open_gate()
        wait_metric(self.gate, "tenantgate_tenant_inflight", 0, tenant="alpha")
        wait_metric(self.gate, "tenantgate_tenant_queued", 0, tenant="alpha")

    def test_flood_of_one_tenant(self):
        before = metrics(self.gate)
        f = Flight(self.gate)
        for i in range(10):
            f.send(ALICE, "up + %d" % i)
        # two reach the upstream, two wait, six are refused at once: all six
        # answers arrive while the upstream still holds the first two
        self.up.wait_held(2)
        wait_metric(self.gate, "tenantgate_tenant_queued", 2, tenant="alpha")
        refused = f.wait(6, "refusals")
        self.assertEqual(self.up.held, 2)
        self.assertEqual(len(refused), 6)
        for r in refused:
            j = check_error(self, r, 429, "too_many_requests")
            self.assertEqual(r.reason, "Too Many Requests")  # not evhttp's "Client Error"
            self.assertIn("alpha", j["error"])
            self.assertIn("maxQueued", j["error"])
            self.assertGreaterEqual(int(r.header("Retry-After")), 1)
        self.assertEqual(metric(self.gate, "tenantgate_tenant_inflight", tenant="alpha"), 2)
        # another tenant is served meanwhile, in the upstream's own time
        r = self.gate.get("/api/v1/query", {"query": "up", "namespace": "beta"}, token=BOB)
        check_success(self, r)
        self.assertEqual(self.up.held, 2)
        # let them go: the two queued ones follow, never more than 2 at once
        self.up.open_gate()
        answers = f.wait(10)
        f.join()
        self.assertEqual(sorted(r.status for r in answers), [200] * 4 + [429] * 6)
        self.assertEqual(self.up.max_held, 2)
        alpha = [rec for rec in self.up.requests if 'namespace="alpha"' in
                 urllib.parse.unquote(rec["target"])]
        self.assertEqual(len(alpha), 4)
        # metrics moved
        now = metrics(self.gate)

        def moved(name, **labels):
            k = (name, frozenset(labels.items()))
            return now.get(k, 0) - before.get(k, 0)
        self.assertEqual(moved("tenantgate_tenant_requests_total", tenant="alpha", code="200"), 4)
        self.assertEqual(moved("tenantgate_tenant_requests_total", tenant="alpha", code="429"), 6)
        self.assertEqual(moved("tenantgate_tenant_rejected_total", tenant="alpha",
                               reason="maxQueued"), 6)
        self.assertEqual(moved("tenantgate_tenant_requests_total", tenant="beta", code="200"), 1)
        self.assertEqual(moved("tenantgate_tenant_queue_wait_seconds_count", tenant="alpha"), 4)
        # the access log names the limit
        wait_until(lambda: self.gate.proc.log().count('"limit":"maxQueued"') >= 6, 10,
                   "access log lines naming maxQueued", proc=self.gate.proc)

    def test_fifo_order(self):
        self.up.hold_match = 'namespace="beta"'
        # beta: 1 in flight, no queue
        f = Flight(self.gate)
        f.send(BOB, "first", ns="beta")
        self.up.wait_held(1)
        r = self.gate.get("/api/v1/query", {"query": "second", "namespace": "beta"}, token=BOB)
        check_error(self, r, 429, "too_many_requests", contains="beta")
        self.up.open_gate()
        check_success(self, f.wait(1)[0])
        wait_metric(self.gate, "tenantgate_tenant_inflight", 0, tenant="beta")
        # alpha: the queued requests reach the upstream in the order they came
        self.setUp()
        f = Flight(self.gate)
        f.send(ALICE, "q0")
        f.send(ALICE, "q1")
        self.up.wait_held(2)
        for i in (2, 3):
            f.send(ALICE, "q%d" % i)
            wait_metric(self.gate, "tenantgate_tenant_queued", i - 1, tenant="alpha")

        def nth_query(n):
            wait_until(lambda: self.up.count() > n, 20, "upstream request %d" % n)
            rec = self.up.requests[n]
            return urllib.parse.parse_qs(urllib.parse.urlsplit(rec["target"]).query)["query"][0]
        self.up.release(1)
        self.assertTrue(nth_query(2).startswith("q2"))
        self.up.release(1)
        self.assertTrue(nth_query(3).startswith("q3"))
        self.up.open_gate()
        self.assertEqual([r.status for r in f.wait(4)], [200] * 4)

    def test_two_tenants_count_against_both(self):
        self.up.hold_match = "both"
        f = Flight(self.gate)
        f.send(CAROL, "both", ns="alpha,beta")
        self.up.wait_held(1)
        wait_metric(self.gate, "tenantgate_tenant_inflight", 1, tenant="alpha")
        self.assertEqual(metric(self.gate, "tenantgate_tenant_inflight", tenant="beta"), 1)
        # beta's only slot is taken
        r = self.gate.get("/api/v1/query", {"query": "up", "namespace": "beta"}, token=BOB)
        check_error(self, r, 429, "too_many_requests", contains="beta")
        # alpha has one more
        r = self.gate.get("/api/v1/query", {"query": "up", "namespace": "alpha"}, token=ALICE)
        check_success(self, r)
        self.up.open_gate()
        check_success(self, f.wait(1)[0])
        wait_metric(self.gate, "tenantgate_tenant_inflight", 0, tenant="beta")

    def test_client_leaving_the_queue(self):
        f = Flight(self.gate)
        f.send(ALICE, "a")
        f.send(ALICE, "b")
        self.up.wait_held(2)
        socks = [raw_request(self.gate, qtarget("gone%d" % i), ALICE) for i in range(2)]
        wait_metric(self.gate, "tenantgate_tenant_queued", 2, tenant="alpha")
        r = self.gate.get("/api/v1/query", {"query": "up", "namespace": "alpha"}, token=ALICE)
        check_error(self, r, 429, "too_many_requests")
        # both waiting clients go away: their places are free at once
        for s in socks:
            s.close()
        wait_metric(self.gate, "tenantgate_tenant_queued", 0, tenant="alpha")
        f.send(ALICE, "c")
        wait_metric(self.gate, "tenantgate_tenant_queued", 1, tenant="alpha")
        self.up.open_gate()
        answers = f.wait(3)
        self.assertEqual([r.status for r in answers], [200] * 3)
        seen = " ".join(urllib.parse.unquote_plus(rec["target"]) for rec in self.up.requests)
        self.assertNotIn("gone", seen)

    def test_queue_timeout(self):
        cfg = config("limits:\n  defaults: {maxInflight: 1, maxQueued: 1, queueTimeout: 300ms}\n")
        gate = tg.TenantGate(self.up.url, config=cfg, name="tg-qtimeout")
        try:
            f = Flight(gate)
            f.send(ALICE, "held")
            self.up.wait_held(1)
            r = gate.get("/api/v1/query", {"query": "waits", "namespace": "alpha"}, token=ALICE)
            j = check_error(self, r, 429, "too_many_requests", contains="queueTimeout")
            self.assertIn("alpha", j["error"])
            self.assertGreaterEqual(int(r.header("Retry-After")), 1)
            self.assertEqual(metric(gate, "tenantgate_tenant_rejected_total", tenant="alpha",
                                    reason="queueTimeout"), 1)
            self.up.open_gate()
            check_success(self, f.wait(1)[0])
            self.assertEqual(self.up.count(), 1)
        finally:
            self.up.open_gate()
            gate.stop()


class Reload(unittest.TestCase):
    def test_sighup_changes_a_tenants_limit(self):
        up = fake_upstream.FakeUpstream()
        up.mode = "hold"
        lim = "limits:\n  tenants:\n    alpha: {maxInflight: %d}\n"
        gate = tg.TenantGate(up.url, config=config(lim % 1), name="tg-reload")
        try:
            f = Flight(gate)
            f.send(ALICE, "one")
            up.wait_held(1)
            r = gate.get("/api/v1/query", {"query": "two", "namespace": "alpha"}, token=ALICE)
            check_error(self, r, 429, "too_many_requests")
            with open(gate.config_file, "w") as fh:
                fh.write(config(lim % 2))
            gate.proc.signal(signal.SIGHUP)
            wait_until(lambda: "configuration reloaded" in gate.proc.log(), 10, "reload",
                       proc=gate.proc)
            f.send(ALICE, "two")
            up.wait_held(2)  # the one in flight kept its slot, the new limit let one more in
            r = gate.get("/api/v1/query", {"query": "three", "namespace": "alpha"}, token=ALICE)
            check_error(self, r, 429, "too_many_requests", contains="maxInflight 2")
            up.open_gate()
            self.assertEqual([r.status for r in f.wait(2)], [200, 200])
        finally:
            up.open_gate()
            gate.stop()
            up.stop()


class Shutdown(unittest.TestCase):
    def test_sigterm_answers_queued_with_503(self):
        up = fake_upstream.FakeUpstream()
        up.mode = "hold"
        gate = tg.TenantGate(up.url, config=config(
            "limits:\n  defaults: {maxInflight: 1, maxQueued: 5}\n"), name="tg-term")
        try:
            f = Flight(gate)
            f.send(ALICE, "running")
            up.wait_held(1)
            f.send(ALICE, "queued1")
            f.send(ALICE, "queued2")
            wait_metric(gate, "tenantgate_tenant_queued", 2, tenant="alpha")
            gate.proc.signal(signal.SIGTERM)
            drained = f.wait(2)
            for r in drained:
                check_error(self, r, 503, "unavailable", contains="shutting down")
            self.assertEqual(up.held, 1)
            up.open_gate()  # the one in flight finishes, then the process exits
            check_success(self, f.wait(3)[2])
            self.assertEqual(gate.proc.wait(20), 0)
            self.assertEqual(up.count(), 1)
        finally:
            up.open_gate()
            gate.stop()
            up.stop()


class Rate(unittest.TestCase):
    def test_rate_with_burst(self):
        up = fake_upstream.FakeUpstream()
        # one token per 1000 s: within the test only the burst counts
        gate = tg.TenantGate(up.url, config=config(
            "limits:\n  defaults: {rate: 0.001, burst: 3}\n  tenants:\n    beta: {rate: 0}\n"),
            name="tg-rate")
        try:
            got = [gate.get("/api/v1/query", {"query": "up", "namespace": "alpha"}, token=ALICE)
                   for _ in range(5)]
            self.assertEqual([r.status for r in got], [200, 200, 200, 429, 429])
            j = check_error(self, got[3], 429, "too_many_requests", contains="limits.rate")
            self.assertIn("alpha", j["error"])
            # the next token is about 1000 s away
            self.assertGreater(int(got[3].header("Retry-After")), 900)
            self.assertEqual(up.count(), 3)
            # beta lifts the rate; carol's request for both needs alpha's bucket too
            for _ in range(5):
                check_success(self, gate.get("/api/v1/query", {"query": "up",
                                                                "namespace": "beta"}, token=BOB))
            r = gate.get("/api/v1/query", [("query", "up"), ("namespace", "beta"),
                                           ("namespace", "alpha")], token=CAROL)
            check_error(self, r, 429, "too_many_requests", contains="alpha")
            self.assertEqual(metric(gate, "tenantgate_tenant_rejected_total", tenant="alpha",
                                    reason="rate"), 3)
            self.assertEqual(up.count(), 8)
        finally:
            gate.stop()
            up.stop()


class QueryGuards(GateCase):
    """maxQueryLength, maxLookback and blockedQueries: 422, never upstream."""

    NAME = "tg-guards"
    LIMITS = ("limits:\n"
              "  defaults: {maxQueryLength: 7d, maxLookback: 30d}\n"
              "  tenants:\n"
              "    beta: {maxQueryLength: 0, maxLookback: 0}\n"
              "  blockedQueries:\n"
              "  - {pattern: '{__name__=~\".+\"}', reason: selects every series}\n"
              "  - {pattern: 'count_values\\(\"[a-z]+\", *up\\)', regex: true}\n")

    def q(self, query, path="/api/v1/query", token=ALICE, ns="alpha", **params):
        p = dict(params, namespace=ns)
        if query is not None:
            p["query"] = query
        return self.gate.get(path, p, token=token)

    def assert_ok(self, r):
        n = self.up.count()
        check_success(self, r())
        self.assertEqual(self.up.count(), n + 1)

    def assert_refused(self, r, contains, limit):
        n = self.up.count()
        resp = r()
        j = check_error(self, resp, 422, "execution", contains=contains)
        self.assertIn(limit, j["error"])
        self.assertEqual(self.up.count(), n, "a refused query reached the upstream")
        return j

    def test_query_length_instant(self):
        self.assert_ok(lambda: self.q("max_over_time(rate(up[1d])[6d:1h])"))
        j = self.assert_refused(lambda: self.q("max_over_time(rate(up[1d])[6d1m:1h])"),
                                "query reads 7d1m, limit for alpha is 7d", "maxQueryLength")
        self.assertIn("tenantgate", j["error"])
        # the example: rate(up[2d]) inside a [6d:1h] subquery reads 8 days
        self.assert_refused(lambda: self.q("max_over_time(rate(up[2d])[6d:1h])"),
                            "query reads 8d", "maxQueryLength")
        self.assert_refused(lambda: self.q("sum(rate(up[8d]))", path="/api/v1/query",
                                           time="%d" % time.time()),
                            "query reads 8d", "maxQueryLength")
        # the same query is fine for beta (no bound)
        self.assert_ok(lambda: self.q("max_over_time(rate(up[2d])[6d:1h])", token=BOB,
                                      ns="beta"))

    def test_query_length_range(self):
        end = int(time.time())
        self.assert_ok(lambda: self.q("rate(up[6d])", "/api/v1/query_range", start=end - DAY,
                                      end=end, step=60))
        self.assert_refused(lambda: self.q("rate(up[6d])", "/api/v1/query_range",
                                           start="%.3f" % (end - DAY - 0.001), end=end, step=60),
                            "query reads 7d1ms", "maxQueryLength")
        # RFC 3339 times
        rfc = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(end - 7 * DAY - 1))
        self.assert_refused(lambda: self.q("up", "/api/v1/query_range", start=rfc + ".5Z",
                                           end=end, step="1h"),
                            "query reads 7d500ms", "maxQueryLength")
        self.assert_ok(lambda: self.q("up", "/api/v1/query_range", start=rfc + "-00:01",
                                      end=end, step="1h"))
        # @ pins a selector whatever the range: 1d of data per step, fine
        self.assert_ok(lambda: self.q("rate(up[1d] @ end())", "/api/v1/query_range",
                                      start=end - 10 * DAY, end=end, step=3600))
        r = self.q("up", "/api/v1/query_range", start="yesterday", end=end, step=60)
        check_error(self, r, 400, "bad_data", contains='invalid parameter "start"')
        r = self.q("up", "/api/v1/query_range", end=end, step=60)
        check_error(self, r, 400, "bad_data", contains='invalid parameter "start"')

    def test_lookback(self):
        # no time parameter: evaluated at tenantgate's now, so the edge is exact:
        # 29d23h55m offset + the 5m lookback delta = 30d
        self.assert_ok(lambda: self.q("up offset 29d23h55m"))
        self.assert_refused(lambda: self.q("up offset 29d23h55m1s"),
                            "query reads 30d1s back from now, limit for alpha is 30d",
                            "maxLookback")
        self.assert_ok(lambda: self.q("rate(up[1d] offset 29d)"))
        self.assert_refused(lambda: self.q("rate(up[1d] offset 29d1s)"), "30d1s back",
                            "maxLookback")
        now = time.time()
        # @ with a time, start(), end(); the test's clock: a minute of margin
        self.assert_ok(lambda: self.q("up @ %d" % (now - 30 * DAY + 360)))
        self.assert_refused(lambda: self.q("up @ %d" % (now - 30 * DAY - 60)), "back from now",
                            "maxLookback")
        self.assert_ok(lambda: self.q("rate(up[1h] @ start())", "/api/v1/query_range",
                                      start=now - 30 * DAY + 3660, end=now, step=3600))
        self.assert_refused(lambda: self.q("rate(up[1h] @ start())", "/api/v1/query_range",
                                           start=now - 30 * DAY + 3600 - 60, end=now,
                                           step=3600),
                            "back from now", "maxLookback")
        self.assert_ok(lambda: self.q("rate(up[1h] @ end())", "/api/v1/query_range",
                                      start=now - 60 * DAY, end=now - 30 * DAY + 3660,
                                      step=86400))
        self.assert_ok(lambda: self.q("up offset 40d", token=BOB, ns="beta"))

    def test_match_routes(self):
        now = time.time()
        for path in ("/api/v1/series", "/api/v1/labels", "/api/v1/label/job/values"):
            self.assert_ok(lambda: self.q(None, path, start=now - 30 * DAY + 60,
                                          end=now - 29 * DAY, **{"match[]": "up"}))
            self.assert_refused(lambda: self.q(None, path, start=now - 30 * DAY - 60,
                                               end=now - 29 * DAY, **{"match[]": "up"}),
                                "back from now", "maxLookback")
            self.assert_ok(lambda: self.q(None, path, start=now - 8 * DAY, end=now - DAY))
            self.assert_refused(lambda: self.q(None, path, start=now - 8 * DAY, end=now - DAY
                                               + 0.5), "limit for alpha is 7d", "maxQueryLength")
            # no start: Prometheus reads all time
            self.assert_refused(lambda: self.q(None, path, **{"match[]": "up"}), "all time",
                                "maxQueryLength")
        self.assert_ok(lambda: self.q(None, "/federate", **{"match[]": "up"}))

    def test_blocked_queries(self):
        j = self.assert_refused(lambda: self.q('sum({__name__=~".+"})'), "selects every series",
                                "blockedQueries")
        self.assertIn('{__name__=~".+"}', j["error"])
        # as `tenantgate fmt` prints it
        self.assert_refused(lambda: self.q('sum( {  __name__ =~ ".+" } )'), "blocked",
                            "blockedQueries")
        self.assert_refused(lambda: self.q('count_values("v",up)'), "blocked", "blockedQueries")
        self.assert_refused(lambda: self.q('count_values("value",   up)'), "blocked",
                            "blockedQueries")
        self.assert_ok(lambda: self.q('count_values("V", up)'))
        self.assert_ok(lambda: self.q('{__name__=~"up|x"}'))
        # beta has no query bounds but the blocked list is everyone's
        self.assert_refused(lambda: self.q('{__name__=~".+"}', token=BOB, ns="beta"),
                            "blocked", "blockedQueries")
        self.assertGreaterEqual(metric(self.gate, "tenantgate_tenant_rejected_total",
                                       tenant="alpha", reason="blockedQueries"), 4)
        # POST, as Grafana sends it
        n = self.up.count()
        r = self.gate.post("/api/v1/query", {"query": '{__name__=~".+"}', "namespace": "alpha"},
                           token=ALICE)
        check_error(self, r, 422, "execution", contains="blocked")
        self.assertEqual(self.up.count(), n)


class NoLimits(unittest.TestCase):
    def test_no_section_no_metrics(self):
        up = fake_upstream.FakeUpstream()
        gate = tg.TenantGate(up.url, name="tg-nolimits")
        try:
            for _ in range(20):
                check_success(self, gate.get("/api/v1/query", {"query": 'sum({__name__=~".+"})',
                                                               "namespace": "alpha"},
                                             token=ALICE))
            self.assertNotIn("tenantgate_tenant_requests_total{", gate.metrics())
        finally:
            gate.stop()
            up.stop()


if __name__ == "__main__":
    main()
