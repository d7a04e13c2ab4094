#!/usr/bin/env python3
"""tenantgate end to end against a real Prometheus 2.42 with generated data for
namespaces alpha, beta, gamma, team.a, teamxa and namespace-less series.

Every check looks at the data: a tenant sees all of its own series and none of
anyone else's, whatever the query asks for. Direct queries to Prometheus (no
proxy) give the expected answers."""
import json
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check_error, check_success, main  # noqa: E402
from harness import datagen, fake_upstream, prom, tg  # noqa: E402
from harness.proc import wait_until  # noqa: E402

ALICE, BOB, CAROL, DAVE, TESS = ("alice-token", "bob-token", "carol-token", "dave-token",
                                 "tess-token")
P = None  # the Prometheus fixture
T = None  # tenantgate in front of it
UP = None  # a recording fake upstream, to prove what never goes upstream
LOCAL = None  # tenantgate in front of UP


def setUpModule():
    global P, T, UP, LOCAL
    P = prom.Prometheus()
    T = tg.TenantGate(P.url)
    UP = fake_upstream.FakeUpstream()
    LOCAL = tg.TenantGate(UP.url, name="tenantgate-local")
    P.wait_fresh()


def tearDownModule():
    try:
        for gate in (T, LOCAL):
            if gate:
                gate.stop_clean()  # exit 0, or the sanitizer's report fails the run
    finally:
        if UP:
            UP.stop()
        if P:
            P.stop()


def ns_params(*nss):
    return [("namespace", n) for n in nss]


def namespaces_of(items, key="metric"):
    return {(it[key] if key else it).get("namespace") for it in items}


def direct(path, **params):
    j = P.api(path, **params)
    assert j["status"] == "success", j
    return j["data"]


class Case(unittest.TestCase):
    def query(self, token, expr, nss=("alpha",), method="GET", **extra):
        p = [("query", expr)] + ns_params(*nss) + [(k, str(v)) for k, v in extra.items()]
        if "time" not in extra:
            p.append(("time", str(P.end)))
        if method == "GET":
            r = T.get("/api/v1/query", p, token=token)
        else:
            r = T.post("/api/v1/query", form=p, token=token)
        return check_success(self, r)["data"]

    def assertOnly(self, result, nss, nonempty=True, key="metric"):
        got = namespaces_of(result, key)
        if nonempty:
            self.assertTrue(result, "empty result")
        self.assertTrue(got <= set(nss), "namespaces %r leaked (allowed %r): %s"
                        % (got - set(nss), nss, json.dumps(result)[:800]))


# Corpus queries that may not answer 200 through tenantgate, each with the
# reason (none today: all 815 are accepted and evaluated by Prometheus 2.42).
CORPUS_EXPECTED_TO_FAIL = {}


class InstantQuery(Case):
    def test_own_data_complete_get_and_post(self):
        for method in ("GET", "POST"):
            for token, ns in ((ALICE, "alpha"), (BOB, "beta"), (DAVE, "team.a")):
                with self.subTest(method=method, ns=ns):
                    d = self.query(token, "up", (ns,), method)
                    self.assertEqual(d["resultType"], "vector")
                    self.assertOnly(d["result"], [ns])
                    want = direct("/api/v1/query", query='up{namespace="%s"}' % ns,
                                  time=P.end)
                    self.assertEqual(sorted(json.dumps(x["metric"], sort_keys=True)
                                            for x in d["result"]),
                                     sorted(json.dumps(x["metric"], sort_keys=True)
                                            for x in want["result"]))

    def test_sneaky_selectors_never_leak(self):
        for expr in ('up{namespace="beta"}', 'up{namespace=~"beta|alpha"}',
                     'up{namespace=~".+"}', 'up{namespace!="alpha"}', 'up{namespace!~"alpha"}',
                     'up{namespace=""}', '{__name__=~".+"}', '{namespace="beta"}',
                     '{__name__="up",namespace="beta"}', 'tenant_secret_info',
                     'kube_service_info', 'node_load1', 'beta_only_widgets',
                     'count by (namespace) ({__name__=~".+"})',
                     'up or on() {namespace="beta"}', 'up unless {namespace="alpha"}',
                     'label_replace(tenant_secret_info, "x", "$1", "secret", "(.*)")',
                     'tenant_secret_info offset 1h', 'tenant_secret_info @ %d' % (P.end - 60),
                     'max_over_time(tenant_secret_info{namespace="beta"}[1h])',
                     'sum by (namespace) (rate(http_requests_total[5m]))',
                     'topk(100, {__name__=~".+_info"})',
                     'max_over_time(tenant_secret_info[1h:5m])',
                     'count_values by (namespace) ("ns", {__name__=~".+"})',
                     'absent(tenant_secret_info{namespace="beta"})'):
            with self.subTest(expr=expr):
                d = self.query(ALICE, expr)
                res = d["result"] if d["resultType"] in ("vector", "matrix") else []
                self.assertOnly(res, ["alpha"], nonempty=False)
                text = json.dumps(res)
                for other in ("beta", "gamma", "teamxa", "team.a", "node_load1", "kube_node_info"):
                    self.assertNotIn(other, text, expr)

    def test_secret_marker_exactly_own(self):
        for token, ns in ((ALICE, "alpha"), (BOB, "beta"), (DAVE, "team.a")):
            d = self.query(token, '{__name__="tenant_secret_info"}', (ns,))
            self.assertEqual([x["metric"]["secret"] for x in d["result"]], ["%s-s3cr3t" % ns])

    def test_everything_equals_direct_enforced(self):
        d = self.query(ALICE, '{__name__=~".+"}')
        want = direct("/api/v1/query", query='{__name__=~".+",namespace="alpha"}', time=P.end)
        self.assertOnly(d["result"], ["alpha"])
        self.assertEqual(len(d["result"]), len(want["result"]))

    def test_values_equal_direct_enforced(self):
        pairs = [
            ('sum(rate(http_requests_total[5m]))',
             'sum(rate(http_requests_total{namespace="alpha"}[5m]))'),
            ('histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket[10m])))',
             'histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket{namespace="alpha"}[10m])))'),
            ('sum(http_requests_total) / sum(http_requests_total{namespace="beta"} or http_requests_total)',
             'sum(http_requests_total{namespace="alpha"}) / sum(http_requests_total{namespace="alpha"})'),
            ('count(count by (namespace) ({__name__=~".+"}))', 'vector(1)'),
            ('sum(kube_pod_info) + sum(up)',
             'sum(kube_pod_info{namespace="alpha"}) + sum(up{namespace="alpha"})'),
        ]
        for mine, ref in pairs:
            with self.subTest(expr=mine):
                got = self.query(ALICE, mine)["result"]
                want = direct("/api/v1/query", query=ref, time=P.end)["result"]
                self.assertEqual(len(got), 1, got)
                self.assertAlmostEqual(float(got[0]["value"][1]), float(want[0]["value"][1]))

    def test_several_tenants(self):
        d = self.query(CAROL, "count by (namespace) (up)", ("alpha", "beta"))
        self.assertEqual(namespaces_of(d["result"]), {"alpha", "beta"})
        d = self.query(TESS, "count by (namespace) (up)", ("team.a", "alpha"))
        self.assertEqual(namespaces_of(d["result"]), {"team.a", "alpha"})  # not teamxa
        d = self.query(DAVE, "count by (namespace) (up)", ("team.a",))
        self.assertEqual(namespaces_of(d["result"]), {"team.a"})

    def test_several_tenants_asking_for_one(self):
        # one multi-value semantics: the query's own matcher on the label is ANDed with
        # namespace=~"alpha|beta", so a user of two namespaces who asks for one gets that one
        for expr, want in (('count by (namespace) (up{namespace="beta"})', {"beta"}),
                           ('count by (namespace) (up{namespace!="beta"})', {"alpha"}),
                           ('count by (namespace) (up{namespace=~"gamma|alpha"})', {"alpha"}),
                           ('count by (namespace) (up{namespace="gamma"})', set())):
            with self.subTest(expr=expr):
                d = self.query(CAROL, expr, ("alpha", "beta"))
                self.assertEqual(namespaces_of(d["result"]), want)
        r = T.get("/api/v1/series", [("match[]", 'up{namespace="beta"}')] + ns_params("alpha", "beta"),
                  token=CAROL)
        self.assertEqual(r.status, 200, r)
        self.assertEqual({s["namespace"] for s in r.json()["data"]}, {"beta"})

    def test_forbidden_tenant_403(self):
        r = T.get("/api/v1/query", [("query", "up")] + ns_params("beta"), token=ALICE)
        check_error(self, r, 403, contains="beta")
        r = T.get("/api/v1/query", [("query", "up")] + ns_params("teamxa"), token=DAVE)
        check_error(self, r, 403, contains="teamxa")

    def test_bad_promql(self):
        r = T.get("/api/v1/query", [("query", "sum(up")] + ns_params("alpha"), token=ALICE)
        check_error(self, r, 400, "bad_data")

    def test_duplicated_query_in_url_and_body(self):
        # Prometheus reads the body's value first: two different copies are
        # refused, so that it never gets to pick one
        r = T.post("/api/v1/query", query=[("query", "up")] + ns_params("alpha"),
                   form=[("query", '{namespace="beta"}'), ("time", str(P.end))], token=ALICE)
        check_error(self, r, 400, "bad_data", contains="conflicting")
        r = T.get("/api/v1/query", [("query", "up"), ("query", '{namespace="beta"}'),
                                    ("time", str(P.end))] + ns_params("alpha"), token=ALICE)
        check_error(self, r, 400, "bad_data", contains="conflicting")

    def test_corpus_queries(self):
        """Every kube-prometheus query from the corpus in test/data/corpus, through tenantgate:
        accepted (they all parse in 2.42) and nothing but alpha comes back."""
        path = os.environ.get("TG_CORPUS", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "corpus", "queries.txt"))
        with open(path) as f:
            queries = [ln.rstrip("\n").replace("\\n", "\n") for ln in f if ln.strip()]
        self.assertEqual(len(queries), 815)
        bad = []
        for q in queries:
            r = T.post("/api/v1/query", form=[("query", q), ("time", str(P.end))]
                       + ns_params("alpha"), token=ALICE)
            if q in CORPUS_EXPECTED_TO_FAIL:
                self.assertNotEqual(r.status, 200, "listed as failing but answered: %s" % q)
                continue
            if r.status != 200:
                bad.append((q, r.status, r.body[:200]))
                continue
            d = check_success(self, r)["data"]
            if d["resultType"] in ("vector", "matrix"):
                ns = namespaces_of(d["result"]) - {None, "alpha"}
                self.assertFalse(ns, "leak of %r for %s" % (ns, q))
        self.assertFalse(bad, "%d corpus queries not answered 200, e.g. %r" % (len(bad), bad[:3]))


class RangeQuery(Case):
    def test_range_get_and_post(self):
        p = [("query", "rate(http_requests_total[5m])"), ("start", str(P.end - 3600)),
             ("end", str(P.end)), ("step", "60")] + ns_params("alpha")
        for method in ("GET", "POST"):
            with self.subTest(method=method):
                r = (T.get("/api/v1/query_range", p, token=ALICE) if method == "GET"
                     else T.post("/api/v1/query_range", form=p, token=ALICE))
                d = check_success(self, r)["data"]
                self.assertEqual(d["resultType"], "matrix")
                self.assertOnly(d["result"], ["alpha"])
                self.assertEqual(len(d["result"]), datagen.PODS * len(datagen.CODES))
                for s in d["result"]:
                    self.assertGreaterEqual(len(s["values"]), 55)

    def test_range_sneaky(self):
        p = [("query", '{namespace=~"beta|gamma"} or tenant_secret_info'),
             ("start", str(P.end - 600)), ("end", str(P.end)), ("step", "60")]
        d = check_success(self, T.get("/api/v1/query_range", p + ns_params("alpha"),
                                      token=ALICE))["data"]
        self.assertOnly(d["result"], ["alpha"], nonempty=False)
        self.assertNotIn("beta", json.dumps(d))


class Series(Case):
    def series(self, token, matches, nss=("alpha",), method="GET"):
        p = [("match[]", m) for m in matches] + [("start", str(P.start)),
                                                 ("end", str(P.end))] + ns_params(*nss)
        r = (T.get("/api/v1/series", p, token=token) if method == "GET"
             else T.post("/api/v1/series", form=p, token=token))
        return check_success(self, r)["data"]

    def test_series_match(self):
        for method in ("GET", "POST"):
            d = self.series(ALICE, ["up", 'kube_pod_info{namespace="beta"}'], method=method)
            self.assertOnly(d, ["alpha"], key=None)
            self.assertIn("up", {s["__name__"] for s in d})

    def test_series_without_match(self):
        d = self.series(ALICE, [])
        self.assertOnly(d, ["alpha"], key=None)
        want = direct("/api/v1/series", **{"match[]": '{namespace="alpha"}', "start": P.start,
                                           "end": P.end})
        self.assertEqual(len(d), len(want))

    def test_series_everything(self):
        d = self.series(ALICE, ['{__name__=~".+"}', '{namespace=~".+"}', '{job="node"}'])
        self.assertOnly(d, ["alpha"], key=None)
        self.assertNotIn("node_load1", {s["__name__"] for s in d})


class Labels(Case):
    def test_labels(self):
        p = [("start", str(P.start)), ("end", str(P.end))] + ns_params("alpha")
        for method in ("GET", "POST"):
            r = (T.get("/api/v1/labels", p, token=ALICE) if method == "GET"
                 else T.post("/api/v1/labels", form=p, token=ALICE))
            names = check_success(self, r)["data"]
            self.assertIn("namespace", names)
            self.assertIn("pod", names)
            self.assertIn("secret", names)
            # only beta's kube_service_info has exported_namespace; only node series lack ns
            self.assertNotIn("exported_namespace", names)
        want = direct("/api/v1/labels", **{"match[]": '{namespace="alpha"}', "start": P.start,
                                           "end": P.end})
        self.assertEqual(sorted(names), sorted(want))

    def test_labels_with_sneaky_match(self):
        p = [("match[]", 'kube_service_info{namespace="beta"}'), ("start", str(P.start)),
             ("end", str(P.end))] + ns_params("alpha")
        names = check_success(self, T.get("/api/v1/labels", p, token=ALICE))["data"]
        self.assertNotIn("exported_namespace", names)

    def test_label_values(self):
        p = [("start", str(P.start)), ("end", str(P.end))] + ns_params("alpha")
        vals = check_success(self, T.get("/api/v1/label/namespace/values", p,
                                         token=ALICE))["data"]
        self.assertEqual(vals, ["alpha"])
        vals = check_success(self, T.get("/api/v1/label/secret/values", p, token=ALICE))["data"]
        self.assertEqual(vals, ["alpha-s3cr3t"])
        vals = check_success(self, T.get("/api/v1/label/pod/values", p, token=ALICE))["data"]
        self.assertEqual(sorted(vals), sorted(datagen.pods("alpha")))
        names = check_success(self, T.get("/api/v1/label/__name__/values", p,
                                          token=ALICE))["data"]
        self.assertIn(datagen.only_metric("alpha"), names)
        for other in ("beta", "gamma", "team.a", "teamxa"):
            self.assertNotIn(datagen.only_metric(other), names)
        self.assertNotIn("node_load1", names)
        self.assertNotIn("go_goroutines", names)

    def test_label_values_several_tenants(self):
        p = [("start", str(P.start)), ("end", str(P.end))] + ns_params("team.a", "alpha")
        vals = check_success(self, T.get("/api/v1/label/namespace/values", p,
                                         token=TESS))["data"]
        self.assertEqual(sorted(vals), ["alpha", "team.a"])

    def test_label_values_sneaky_match(self):
        p = [("match[]", '{namespace="beta"}'), ("match[]", "node_load1")] + ns_params("alpha")
        vals = check_success(self, T.get("/api/v1/label/namespace/values", p,
                                         token=ALICE))["data"]
        self.assertTrue(set(vals) <= {"alpha"}, vals)


class Metadata(Case):
    def test_only_own_metrics(self):
        md = check_success(self, T.get("/api/v1/metadata", ns_params("alpha"),
                                       token=ALICE))["data"]
        self.assertIn(prom.exporter_only_metric("alpha"), md)
        for other in ("beta", "gamma"):
            self.assertNotIn(prom.exporter_only_metric(other), md)
        for foreign in ("go_goroutines", "prometheus_build_info", "tg_exporter_build_info"):
            self.assertNotIn(foreign, md)

    def test_counter_family_name(self):
        # OpenMetrics counters: metadata is keyed by the family name (no _total)
        md = check_success(self, T.get("/api/v1/metadata", ns_params("alpha"),
                                       token=ALICE))["data"]
        self.assertIn("tg_exporter_requests", md)

    def test_metric_param(self):
        md = check_success(self, T.get("/api/v1/metadata", [(
            "metric", prom.exporter_only_metric("beta"))] + ns_params("alpha"),
            token=ALICE))["data"]
        self.assertEqual(md, {})
        md = check_success(self, T.get("/api/v1/metadata", [(
            "metric", prom.exporter_only_metric("beta"))] + ns_params("beta"),
            token=BOB))["data"]
        self.assertIn(prom.exporter_only_metric("beta"), md)


class Exemplars(Case):
    def test_exemplars_own_only(self):
        now = int(time.time())
        p = [("query", "tg_exporter_requests_total"), ("start", str(now - 600)),
             ("end", str(now + 60))] + ns_params("alpha")
        for method in ("GET", "POST"):
            r = (T.get("/api/v1/query_exemplars", p, token=ALICE) if method == "GET"
                 else T.post("/api/v1/query_exemplars", form=p, token=ALICE))
            d = check_success(self, r)["data"]
            self.assertOnly(d, ["alpha"], key="seriesLabels")
            self.assertNotIn("beta-trace", json.dumps(d))

    def test_exemplars_sneaky(self):
        now = int(time.time())
        p = [("query", '{__name__=~".+",namespace="beta"}'), ("start", str(now - 600)),
             ("end", str(now + 60))] + ns_params("alpha")
        d = check_success(self, T.get("/api/v1/query_exemplars", p, token=ALICE))["data"]
        self.assertNotIn("beta", json.dumps(d))


class RulesAlerts(Case):
    def rules(self, token, nss, **extra):
        p = ns_params(*nss) + list(extra.items())
        return check_success(self, T.get("/api/v1/rules", p, token=token))["data"]["groups"]

    def test_rules_filtered(self):
        groups = self.rules(ALICE, ["alpha"])
        names = {g["name"] for g in groups}
        self.assertEqual(names, {"ns-alpha", "mixed"})
        for g in groups:
            self.assertTrue(g["rules"], g["name"])
            for r in g["rules"]:
                self.assertEqual(r.get("labels", {}).get("namespace"), "alpha", r)
                for a in r.get("alerts", []):
                    self.assertEqual(a["labels"].get("namespace"), "alpha", a)
        mixed = [g for g in groups if g["name"] == "mixed"][0]
        self.assertEqual(sorted(r["name"] for r in mixed["rules"]),
                         ["MixedAlpha", "tg:mixed_alpha"])
        own = [g for g in groups if g["name"] == "ns-alpha"][0]
        self.assertEqual(len(own["rules"]), 4)
        self.assertNotIn("Beta", json.dumps(groups))

    def test_rules_regex_namespace(self):
        groups = self.rules(DAVE, ["team.a"])
        self.assertEqual({g["name"] for g in groups}, {"ns-team.a"})

    def test_rules_several_tenants(self):
        groups = self.rules(CAROL, ["alpha", "beta"])
        self.assertEqual({g["name"] for g in groups}, {"ns-alpha", "ns-beta", "mixed"})
        mixed = [g for g in groups if g["name"] == "mixed"][0]
        self.assertEqual(len(mixed["rules"]), 4)

    def test_rules_type_param(self):
        groups = self.rules(ALICE, ["alpha"], type="alert")
        self.assertTrue(groups)
        for g in groups:
            for r in g["rules"]:
                self.assertEqual(r["type"], "alerting")
                self.assertEqual(r["labels"]["namespace"], "alpha")

    def test_alerts_filtered(self):
        for token, ns in ((ALICE, "alpha"), (BOB, "beta"), (DAVE, "team.a")):
            with self.subTest(ns=ns):
                d = check_success(self, T.get("/api/v1/alerts", ns_params(ns),
                                              token=token))["data"]
                names = {a["labels"]["alertname"] for a in d["alerts"]}
                self.assertOnly(d["alerts"], [ns], key="labels")
                cap = datagen.metric_ns(ns).capitalize()
                self.assertIn("%sAlwaysFiring" % cap, names)
                self.assertNotIn("ClusterAlwaysFiring", names)
                self.assertNotIn("MixedClusterWide", names)

    def test_filtered_responses_with_gzip_accepted(self):
        # promtool/Grafana (Go clients) send Accept-Encoding: gzip and Prometheus
        # honours it: filtered endpoints must still filter (and answer valid JSON)
        import gzip
        for path in ("/api/v1/rules", "/api/v1/alerts", "/api/v1/metadata"):
            with self.subTest(path=path):
                r = T.get(path, ns_params("alpha"), token=ALICE,
                          headers={"Accept-Encoding": "gzip"})
                self.assertEqual(r.status, 200, r)
                body = r.body
                if (r.header("Content-Encoding") or "").lower() == "gzip":
                    body = gzip.decompress(body)
                text = body.decode()
                j = json.loads(text)
                self.assertEqual(j["status"], "success")
                self.assertIn("alpha", text)
                for other in ("Beta", "beta_only", "gamma", "go_goroutines", "Cluster"):
                    self.assertNotIn(other, text)

    def test_rules_post(self):
        # Prometheus serves rules by GET only: 405, and the upstream is not asked
        UP.reset_state()
        for gate in (T, LOCAL):
            r = gate.post("/api/v1/rules", form=ns_params("alpha"), token=ALICE)
            check_error(self, r, 405)
            self.assertEqual(r.header("Allow"), "GET")
        self.assertEqual(UP.count(), 0, [q["target"] for q in UP.requests])


class LocalEndpoints(Case):
    def test_format_query_local(self):
        """Formatted as Prometheus formats it, and answered by tenantgate itself:
        LOCAL, the same proxy in front of a recording fake upstream, gives the
        same answers and its upstream sees no request."""
        plain = direct("/api/v1/format_query", query="sum(rate(x[5m]))by(job)")
        enforced = direct("/api/v1/format_query",
                          query='sum(rate(x{namespace="alpha"}[5m]))by(job)')
        plain2 = direct("/api/v1/format_query", query="up{job='a'}")
        enforced2 = direct("/api/v1/format_query", query='up{job="a",namespace="alpha"}')
        UP.reset_state()
        for gate in (T, LOCAL):
            r = gate.get("/api/v1/format_query", [("query", "sum(rate(x[5m]))by(job)")]
                         + ns_params("alpha"), token=ALICE)
            self.assertIn(check_success(self, r)["data"], (plain, enforced))
            r = gate.post("/api/v1/format_query", form=[("query", "up{job='a'}")]
                          + ns_params("alpha"), token=ALICE)
            self.assertIn(check_success(self, r)["data"], (plain2, enforced2))
            r = gate.get("/api/v1/parse_query", [("query", "up")] + ns_params("alpha"),
                         token=ALICE)
            check_success(self, r)
        self.assertEqual(UP.count(), 0, "format_query/parse_query went upstream: %r"
                         % [q["target"] for q in UP.requests])

    def test_format_query_errors(self):
        r = T.get("/api/v1/format_query", [("query", "sum(")] + ns_params("alpha"), token=ALICE)
        check_error(self, r, 400, "bad_data")
        r = T.get("/api/v1/format_query", [("query", "up")] + ns_params("alpha"))
        check_error(self, r, 401)

    def test_parse_query(self):
        r = T.get("/api/v1/parse_query", [("query", 'sum by (job) (up{job="x"})')]
                  + ns_params("alpha"), token=ALICE)
        d = check_success(self, r)["data"]
        self.assertIsInstance(d, dict)
        self.assertIn("type", d)
        r = T.get("/api/v1/parse_query", [("query", "sum(")] + ns_params("alpha"), token=ALICE)
        check_error(self, r, 400, "bad_data")

    def test_buildinfo(self):
        d = check_success(self, T.get("/api/v1/status/buildinfo", ns_params("alpha"),
                                      token=ALICE))["data"]
        self.assertEqual(d["version"], direct("/api/v1/status/buildinfo")["version"])
        check_error(self, T.get("/api/v1/status/buildinfo", ns_params("alpha")), 401)


def parse_federate(text):
    """[(metric name, {labels})] from the text exposition format."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, rest = line.partition("{")
        labels = {}
        if rest:
            body = rest.rsplit("}", 1)[0]
            i = 0
            while i < len(body):
                eq = body.index("=", i)
                k = body[i:eq]
                j = eq + 2
                v = ""
                while body[j] != '"':
                    if body[j] == "\\":
                        j += 1
                    v += body[j]
                    j += 1
                labels[k.strip(",")] = v
                i = j + 2
        out.append((name.split(" ")[0], labels))
    return out


class Federate(Case):
    def test_federate_match(self):
        r = T.get("/federate", [("match[]", '{__name__=~".+"}'),
                                ("match[]", '{namespace="beta"}')] + ns_params("alpha"),
                  token=ALICE)
        self.assertEqual(r.status, 200, r)
        series = parse_federate(r.body.decode())
        self.assertTrue(series)
        self.assertEqual({lab.get("namespace") for _, lab in series}, {"alpha"})
        self.assertIn(datagen.FRESH_METRIC, {n for n, _ in series})

    def test_federate_no_match(self):
        r = T.get("/federate", ns_params("beta"), token=BOB)
        self.assertEqual(r.status, 200, r)
        series = parse_federate(r.body.decode())
        self.assertTrue(series)
        self.assertEqual({lab.get("namespace") for _, lab in series}, {"beta"})

    def test_federate_forbidden(self):
        check_error(self, T.get("/federate", [("match[]", "up")] + ns_params("beta"),
                                token=ALICE), 403)


class Grafana(Case):
    """The request sequence Grafana's Prometheus data source sends, on one
    keep-alive connection, token as Bearer, namespace as a custom query param."""

    def test_sequence(self):
        c = T.conn()
        h = {"Authorization": "Bearer " + ALICE}
        hp = dict(h, **{"Content-Type": "application/x-www-form-urlencoded"})
        s, e = str(P.end - 3600), str(P.end)

        def call(method, path, qs, body=None):
            c.request(method, path + "?" + qs, body=body, headers=hp if body else h)
            r = c.getresponse()
            raw = r.read()
            self.assertEqual(r.status, 200, (path, raw[:300]))
            j = json.loads(raw)
            self.assertEqual(j["status"], "success")
            return j["data"]

        from urllib.parse import urlencode
        try:
            call("GET", "/api/v1/status/buildinfo", "namespace=alpha")
            names = call("GET", "/api/v1/labels", urlencode({"start": s, "end": e,
                                                            "namespace": "alpha"}))
            self.assertNotIn("exported_namespace", names)
            vals = call("GET", "/api/v1/label/__name__/values",
                        urlencode({"start": s, "end": e, "namespace": "alpha"}))
            self.assertNotIn(datagen.only_metric("beta"), vals)
            ser = call("POST", "/api/v1/series", "namespace=alpha",
                       urlencode({"match[]": "http_requests_total", "start": s, "end": e}))
            self.assertOnly(ser, ["alpha"], key=None)
            d = call("POST", "/api/v1/query_range", "namespace=alpha",
                     urlencode({"query": "sum by (namespace, code) (rate(http_requests_total[5m]))",
                                "start": s, "end": e, "step": "60", "namespace": "alpha"}))
            self.assertOnly(d["result"], ["alpha"])
            ex = call("GET", "/api/v1/query_exemplars",
                      urlencode({"query": "tg_exporter_requests_total", "start": s,
                                 "end": str(int(time.time()) + 60), "namespace": "alpha"}))
            self.assertOnly(ex, ["alpha"], nonempty=False, key="seriesLabels")
        finally:
            c.close()


class PromtoolClient(Case):
    """promtool 2.42 has no auth flags: the token rides as the Basic-auth password
    and the tenant is the service account's namespace."""

    def promtool(self, *args):
        url = "http://sa:grafana-sa-token@127.0.0.1:%d" % T.port
        out = subprocess.run([prom.PROMTOOL, "query", "-o", "json"] + list(args[:1]) + [url]
                             + list(args[1:]), capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out)
        return json.loads(out.stdout)

    def test_instant(self):
        res = self.promtool("instant", '{__name__=~"up|tenant_secret_info"}', "--time",
                            str(P.end))
        self.assertOnly(res, ["alpha"])

    def test_range(self):
        res = self.promtool("range", "up", "--start", str(P.end - 600), "--end", str(P.end),
                            "--step", "60s")
        self.assertOnly(res, ["alpha"])

    def test_series(self):
        res = self.promtool("series", "--match", 'up', "--match", '{namespace="beta"}',
                            "--start", str(P.start), "--end", str(P.end))
        self.assertOnly(res, ["alpha"], key=None)

    def test_labels(self):
        res = self.promtool("labels", "namespace")
        self.assertEqual(res, ["alpha"])

    def test_bad_token(self):
        url = "http://sa:nope@127.0.0.1:%d" % T.port
        out = subprocess.run([prom.PROMTOOL, "query", "instant", url, "up"],
                             capture_output=True, text=True, timeout=30)
        self.assertNotEqual(out.returncode, 0, out)


class Federation(Case):
    """A second Prometheus federates through tenantgate as alpha: it must store
    alpha's series and nothing else."""

    def test_second_prometheus_stores_only_alpha(self):
        cfg = ("global: {scrape_interval: 1s}\n"
               "scrape_configs:\n"
               "- job_name: tg-federate\n"
               "  honor_labels: true\n"
               "  metrics_path: /federate\n"
               "  authorization: {credentials: alice-token}\n"
               "  params:\n"
               "    namespace: [alpha]\n"
               "    'match[]': ['{__name__=~\".+\"}']\n"
               "  static_configs: [{targets: ['127.0.0.1:%d']}]\n" % T.port)
        p2 = prom.Prometheus(exporter=False, with_data=False, config_text=cfg, name="prom-fed")
        try:
            def scraped():
                r = p2.api("/api/v1/query", query='up{job="tg-federate"}')["data"]["result"]
                if not r or r[0]["value"][1] != "1":
                    return False
                return p2.api("/api/v1/query", query=datagen.FRESH_METRIC)["data"]["result"]
            wait_until(scraped, 20, "second Prometheus federated through tenantgate",
                       interval=0.3, proc=p2.proc)
            res = p2.api("/api/v1/query",
                         query='group by (namespace, __name__) '
                               '({__name__=~".+",__name__!~"up|scrape_.+"})')["data"]["result"]
            self.assertOnly(res, ["alpha"])
            names = {x["metric"]["__name__"] for x in res}
            self.assertIn(datagen.FRESH_METRIC, names)
            self.assertIn(prom.EXPORTER_METRIC, names)
            vals = p2.api("/api/v1/label/namespace/values")["data"]
            self.assertEqual(vals, ["alpha"])
        finally:
            p2.stop()


if __name__ == "__main__":
    main()
