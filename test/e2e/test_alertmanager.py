#!/usr/bin/env python3
"""E2E: Alertmanager tenancy with Debian's real prometheus-alertmanager 0.25.

One Alertmanager for the whole file (loopback, clustering off, its own
storage in the run dir) is seeded directly with alerts for several
namespaces (alpha, beta, gamma, team.a and teamxa — what an unescaped team.a
would match — plus one without a namespace) and with silences whose
ownership is the point: namespace="alpha", namespace="beta",
namespace!="alpha" (isEqual false: it hides every other tenant's alerts),
namespace=~"alpha" (a regex), and one without a namespace. Then the same
requests go through tenantgate as one tenant, and every case is judged on
Alertmanager's own state afterwards (what it lists when asked directly),
not on tenantgate's answer alone.

Clients: urllib-style requests (harness.tg), and amtool 0.25 with
--http.config.file carrying a service account's token (its namespace is the
tenant). The Kubernetes path (TokenReview + SubjectAccessReview with the
write verbs and alertmanager.resourceAttributes) runs once against fakekube.
Bad input goes to a recording fake upstream, which must receive nothing.
FakeAlertmanager: a recording fake as Alertmanager (stale connections, a
missing silence, an oversized one) for what the real one cannot show.
"""
import datetime
import http.client
import json
import os
import subprocess
import sys
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "fakekube"))
from harness import check_am_error, main  # noqa: E402
from harness import fake_upstream, tg  # noqa: E402
from harness.proc import Proc, free_port, subdir, wait_until  # noqa: E402
import fakekube  # noqa: E402

AM_BIN = os.environ.get("TG_ALERTMANAGER", "/usr/bin/prometheus-alertmanager")
AMTOOL = os.environ.get("TG_AMTOOL", "/usr/bin/amtool")

NAMESPACES = ("alpha", "beta", "gamma", "team.a", "teamxa")

# tokens -> (user, uid, groups). Service accounts get their namespace as tenant.
WRITER = "am-alpha-writer"    # system:serviceaccount:alpha:amtool: any verb in alpha
READER = "am-alpha-reader"    # system:serviceaccount:alpha:viewer: get only
CAROL = "am-carol"            # alpha and beta, any verb
TESS = "am-tess"              # team.a and alpha, get
MALLORY = "am-mallory"        # nothing
TOKENS = {
    WRITER: ("system:serviceaccount:alpha:amtool", "2001", ["system:serviceaccounts"]),
    READER: ("system:serviceaccount:alpha:viewer", "2002", ["system:serviceaccounts"]),
    CAROL: ("carol", "2003", ["devs"]),
    TESS: ("tess", "2004", ["devs"]),
    MALLORY: ("mallory", "2005", []),
}


def _rule(user, ns, verb=None):
    v = "    verb: %s\n" % verb if verb else ""
    return ("  - user: {name: %s}\n%s    namespace: %s\n    resource: services\n"
            "    subresource: proxy\n    resourceRequest: true\n" % (json.dumps(user), v,
                                                                     json.dumps(ns)))


CONFIG = ("authorization:\n"
          "  rewrites:\n    byQueryParameter:\n      name: namespace\n"
          "  resourceAttributes:\n    apiVersion: v1\n    resource: services\n"
          "    subresource: proxy\n    namespace: \"{{ .Value }}\"\n"
          "  static:\n" +
          _rule("system:serviceaccount:alpha:amtool", "alpha") +
          _rule("system:serviceaccount:alpha:viewer", "alpha", "get") +
          _rule("carol", "alpha") + _rule("carol", "beta") +
          _rule("tess", "team.a", "get") + _rule("tess", "alpha", "get"))


def iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def now():
    return datetime.datetime.now(datetime.timezone.utc)


class Alertmanager:
    """Debian's prometheus-alertmanager on a free loopback port."""

    def __init__(self):
        self.dir = subdir("alertmanager")
        self.port = free_port()
        cfg = os.path.join(self.dir, "alertmanager.yml")
        with open(cfg, "w") as f:
            f.write("route:\n  receiver: blackhole\n  group_by: [alertname]\n"
                    "receivers:\n  - name: blackhole\n")
        self.proc = Proc("alertmanager", [
            AM_BIN, "--config.file=" + cfg, "--storage.path=" + os.path.join(self.dir, "data"),
            "--web.listen-address=127.0.0.1:%d" % self.port, "--cluster.listen-address=",
            "--log.level=warn"])
        wait_until(lambda: self.call("GET", "/-/ready")[0] == 200, 30, "alertmanager ready",
                   proc=self.proc)

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def call(self, method, path, body=None, query=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            target = path + ("?" + urllib.parse.urlencode(query, doseq=True) if query else "")
            data = json.dumps(body).encode() if body is not None else None
            c.request(method, target, body=data,
                      headers={"Content-Type": "application/json"} if data else {})
            r = c.getresponse()
            raw = r.read()
            if "json" not in (r.getheader("Content-Type") or "") or not raw.strip():
                return r.status, raw
            return r.status, json.loads(raw)
        finally:
            c.close()

    def alerts(self, **query):
        return self.call("GET", "/api/v2/alerts", query=query)[1]

    def silences(self):
        return {s["id"]: s for s in self.call("GET", "/api/v2/silences")[1]}

    def silence(self, sid):
        st, body = self.call("GET", "/api/v2/silence/" + sid)
        return body if st == 200 else None

    def add_silence(self, matchers, comment="seed"):
        st, body = self.call("POST", "/api/v2/silences", silence_body(matchers, comment))
        assert st == 200, body
        return body["silenceID"]

    def stop(self):
        return self.proc.stop()


def matcher(name, value, regex=False, equal=True):
    return {"name": name, "value": value, "isRegex": regex, "isEqual": equal}


def silence_body(matchers, comment="test", sid=None, hours=1):
    b = {"matchers": matchers, "startsAt": iso(now()),
         "endsAt": iso(now() + datetime.timedelta(hours=hours)),
         "createdBy": "e2e", "comment": comment}
    if sid:
        b["id"] = sid
    return b


def label_matchers(sil, name="namespace"):
    return [(m["value"], m["isRegex"], m.get("isEqual", True)) for m in sil["matchers"]
            if m["name"] == name]


def namespaces(alerts):
    return {a["labels"].get("namespace") for a in alerts}


AM = None
SEED = {}


def setUpModule():
    global AM
    AM = Alertmanager()
    start, end = iso(now()), iso(now() + datetime.timedelta(hours=2))
    alerts = []
    for ns in NAMESPACES:
        for name, sev in (("A1", "page"), ("A2", "info")):
            alerts.append({"labels": {"alertname": name, "namespace": ns, "severity": sev},
                           "annotations": {"summary": "%s in %s" % (name, ns)},
                           "startsAt": start, "endsAt": end})
    alerts.append({"labels": {"alertname": "NoNamespace", "severity": "page"},
                   "startsAt": start, "endsAt": end})
    st, _ = AM.call("POST", "/api/v2/alerts", alerts)
    assert st == 200
    SEED["alpha"] = AM.add_silence([matcher("namespace", "alpha"), matcher("alertname", "A1")])
    SEED["beta"] = AM.add_silence([matcher("namespace", "beta"), matcher("alertname", "A1")])
    SEED["not_alpha"] = AM.add_silence([matcher("namespace", "alpha", equal=False)])
    SEED["regex_alpha"] = AM.add_silence([matcher("namespace", "alpha", regex=True)])
    SEED["no_ns"] = AM.add_silence([matcher("alertname", "A2")])
    SEED["team"] = AM.add_silence([matcher("namespace", "team.a"), matcher("severity", "info")])
    # the dispatcher puts alerts into groups on its own goroutine: wait for it
    wait_until(lambda: len(AM.call("GET", "/api/v2/alerts/groups")[1]) == 3, 20,
               "alert groups formed")
    wait_until(lambda: len(AM.alerts()) == 11, 20, "alerts stored")


def tearDownModule():
    if AM:
        AM.stop()


class Base(unittest.TestCase):
    gate = None
    up = None  # the Prometheus upstream: a recording fake, must see nothing of /api/v2

    @classmethod
    def setUpClass(cls):
        cls.up = fake_upstream.FakeUpstream()
        cls.up.mode = "json"
        cls.gate = tg.TenantGate(cls.up.url, tokens=TOKENS, config=CONFIG,
                                 extra_args=["--alertmanager-upstream", AM.url + "/"],
                                 name="tenantgate-am")

    @classmethod
    def tearDownClass(cls):
        rc = cls.gate.stop()
        cls.up.stop()
        assert rc == 0, "tenantgate exit code %r (sanitizer report?)" % rc

    def req(self, method, path, token=WRITER, query=None, body=None, raw=None, headers=None):
        h = {"Content-Type": "application/json"} if body is not None or raw is not None else {}
        if headers:
            h.update(headers)
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None
                                            else None)
        return self.gate.request(method, path, query=query, token=token, body=data, headers=h)

    def ok(self, r):
        self.assertEqual(r.status, 200, r)
        return r.json()

    def create(self, matchers, token=WRITER, query=None, comment="test"):
        return self.req("POST", "/api/v2/silences", token=token, query=query,
                        body=silence_body(matchers, comment))

    def tearDown(self):
        self.assertEqual(self.up.count(), 0, "the Prometheus upstream saw an /api/v2 request")


class Alerts(Base):
    def test_only_own_alerts(self):
        got = self.ok(self.req("GET", "/api/v2/alerts"))
        want = AM.alerts(filter='namespace="alpha"')
        self.assertEqual(namespaces(got), {"alpha"})
        self.assertEqual({a["fingerprint"] for a in got}, {a["fingerprint"] for a in want})
        self.assertEqual(len(got), 2)

    def test_user_filters(self):
        got = self.ok(self.req("GET", "/api/v2/alerts", query=[("filter", 'alertname="A1"')]))
        self.assertEqual([(a["labels"]["namespace"], a["labels"]["alertname"]) for a in got],
                         [("alpha", "A1")])
        # one value: a filter on the label is replaced, never widening or emptying
        for f in ('namespace="beta"', 'namespace=~".*"', 'namespace!="alpha"'):
            with self.subTest(filter=f):
                got = self.ok(self.req("GET", "/api/v2/alerts", query=[("filter", f)]))
                self.assertEqual(namespaces(got), {"alpha"})
        # several values: ANDed, so a user of alpha and beta who asks for beta gets beta
        q = [("namespace", "alpha"), ("namespace", "beta")]
        got = self.ok(self.req("GET", "/api/v2/alerts", token=CAROL, query=q))
        self.assertEqual(namespaces(got), {"alpha", "beta"})
        got = self.ok(self.req("GET", "/api/v2/alerts", token=CAROL,
                               query=q + [("filter", 'namespace="beta"'),
                                          ("filter", "severity=page")]))
        self.assertEqual([(a["labels"]["namespace"], a["labels"]["severity"]) for a in got],
                         [("beta", "page")])
        got = self.ok(self.req("GET", "/api/v2/alerts", token=CAROL,
                               query=q + [("filter", 'namespace="gamma"')]))
        self.assertEqual(got, [])

    def test_regex_values_escaped(self):
        q = [("namespace", "team.a"), ("namespace", "alpha")]
        got = self.ok(self.req("GET", "/api/v2/alerts", token=TESS, query=q))
        self.assertEqual(namespaces(got), {"team.a", "alpha"})  # never teamxa

    def test_flags_pass(self):
        # receiver is a regex over the receivers an alert routes to
        got = self.ok(self.req("GET", "/api/v2/alerts", query=[("receiver", "black.*")]))
        self.assertEqual(namespaces(got), {"alpha"})
        self.assertEqual(len(got), 2)
        got = self.ok(self.req("GET", "/api/v2/alerts", query=[("receiver", "other")]))
        self.assertEqual(got, [])

    def test_groups(self):
        got = self.ok(self.req("GET", "/api/v2/alerts/groups"))
        self.assertEqual(sorted(g["labels"]["alertname"] for g in got), ["A1", "A2"])
        for g in got:
            self.assertEqual(namespaces(g["alerts"]), {"alpha"})
        # the group without any of the tenant's alerts is dropped, not shown empty
        self.assertNotIn("NoNamespace", json.dumps(got))
        got = self.ok(self.req("GET", "/api/v2/alerts/groups", token=CAROL,
                               query=[("namespace", "alpha"), ("namespace", "beta"),
                                      ("filter", "alertname=A2")]))
        self.assertEqual([(g["labels"]["alertname"], sorted(namespaces(g["alerts"])))
                          for g in got], [("A2", ["alpha", "beta"])])

    def test_bad_filter_is_alertmanagers_400(self):
        r = self.req("GET", "/api/v2/alerts", query=[("filter", "foo")])
        check_am_error(self, r, 400, contains="bad matcher format: foo")
        r = self.req("GET", "/api/v2/alerts/groups", query=[("filter", 'a=~"("')])
        check_am_error(self, r, 400, contains="error parsing regexp: missing closing )")


class Silences(Base):
    def own_ids(self, token=WRITER, query=None):
        return {s["id"] for s in self.ok(self.req("GET", "/api/v2/silences", token=token,
                                                  query=query))}

    def test_list_only_owned(self):
        ids = self.own_ids()
        self.assertIn(SEED["alpha"], ids)
        for other in ("beta", "not_alpha", "regex_alpha", "no_ns", "team"):
            self.assertNotIn(SEED[other], ids, other)
        # every listed one is owned: a matcher namespace="alpha", isEqual, not a regex
        for sid in ids:
            self.assertIn(("alpha", False, True), label_matchers(AM.silence(sid)))
        ids = self.own_ids(CAROL, [("namespace", "alpha"), ("namespace", "beta")])
        self.assertTrue({SEED["alpha"], SEED["beta"]} <= ids)
        self.assertNotIn(SEED["not_alpha"], ids)
        self.assertNotIn(SEED["regex_alpha"], ids)
        self.assertNotIn(SEED["no_ns"], ids)
        # a user filter narrows
        ids = self.own_ids(CAROL, [("namespace", "alpha"), ("namespace", "beta"),
                                   ("filter", 'namespace="beta"')])
        self.assertIn(SEED["beta"], ids)
        self.assertNotIn(SEED["alpha"], ids)

    def test_create_gets_the_tenant_matcher(self):
        cases = [
            ("without a namespace matcher", [matcher("alertname", "A2")]),
            ("with its own namespace", [matcher("namespace", "alpha"), matcher("alertname", "A2")]),
            ("aimed at another namespace", [matcher("namespace", "beta"),
                                            matcher("alertname", "A2")]),
            ("with a regex on the label", [matcher("namespace", ".*", regex=True),
                                           matcher("alertname", "A2")]),
            ("with namespace!=", [matcher("namespace", "alpha", equal=False),
                                  matcher("alertname", "A2")]),
        ]
        for what, ms in cases:
            with self.subTest(what):
                sid = self.ok(self.create(ms))["silenceID"]
                sil = AM.silence(sid)
                self.assertEqual(label_matchers(sil), [("alpha", False, True)])
                self.assertEqual(label_matchers(sil, "alertname"), [("A2", False, True)])
                self.assertEqual(sil["status"]["state"], "active")
        # only the tenant matcher left: allowed, it silences the tenant's own alerts
        sid = self.ok(self.create([matcher("namespace", "gamma")]))["silenceID"]
        self.assertEqual([(m["name"], m["value"]) for m in AM.silence(sid)["matchers"]],
                         [("namespace", "alpha")])

    def test_create_with_several_values(self):
        q = [("namespace", "alpha"), ("namespace", "beta")]
        before = set(AM.silences())
        r = self.create([matcher("alertname", "A1")], token=CAROL, query=q)
        check_am_error(self, r, 400, contains="needs a matcher namespace=")
        r = self.create([matcher("namespace", "alpha"), matcher("namespace", "beta")],
                        token=CAROL, query=q)
        check_am_error(self, r, 400, contains="names alpha and beta")
        self.assertEqual(set(AM.silences()), before)
        sid = self.ok(self.create([matcher("namespace", "beta"), matcher("severity", "info")],
                                  token=CAROL, query=q))["silenceID"]
        self.assertEqual(label_matchers(AM.silence(sid)), [("beta", False, True)])

    def test_update_own_and_foreign(self):
        sid = self.ok(self.create([matcher("alertname", "A2")], comment="v1"))["silenceID"]
        body = silence_body([matcher("alertname", "A2")], comment="v2", sid=sid, hours=3)
        new = self.ok(self.req("POST", "/api/v2/silences", body=body))["silenceID"]
        sil = AM.silence(new)
        self.assertEqual(sil["comment"], "v2")
        self.assertEqual(label_matchers(sil), [("alpha", False, True)])
        # foreign, not-equal and regex silences: 403, untouched
        for other in ("beta", "not_alpha", "regex_alpha", "no_ns", "team"):
            with self.subTest(other):
                before = AM.silence(SEED[other])
                body = silence_body([matcher("alertname", "A1")], comment="hijack",
                                    sid=SEED[other])
                r = self.req("POST", "/api/v2/silences", body=body)
                check_am_error(self, r, 403)
                self.assertEqual(AM.silence(SEED[other]), before)
        # an update of an unknown silence: Alertmanager's 404
        body = silence_body([matcher("alertname", "A1")], sid="6f0c5b84-0000-4000-8000-000000000000")
        check_am_error(self, self.req("POST", "/api/v2/silences", body=body), 404)
        check_am_error(self, self.req("POST", "/api/v2/silences",
                                      body=silence_body([matcher("a", "b")], sid="nope")), 404)

    def test_get_and_delete(self):
        sid = self.ok(self.create([matcher("alertname", "A1")]))["silenceID"]
        got = self.ok(self.req("GET", "/api/v2/silence/" + sid))
        self.assertEqual(got, AM.silence(sid))
        for other in ("beta", "not_alpha", "regex_alpha", "no_ns"):
            with self.subTest(other):
                check_am_error(self, self.req("GET", "/api/v2/silence/" + SEED[other]), 403)
                check_am_error(self, self.req("DELETE", "/api/v2/silence/" + SEED[other]), 403)
                self.assertEqual(AM.silence(SEED[other])["status"]["state"], "active")
        r = self.req("DELETE", "/api/v2/silence/" + sid)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(AM.silence(sid)["status"]["state"], "expired")
        check_am_error(self, self.req("GET", "/api/v2/silence/6f0c5b84-0000-4000-8000-000000000000"),
                       404)
        check_am_error(self, self.req("GET", "/api/v2/silence/abc"), 422, code=601)

    def test_read_only_identity_writes_nothing(self):
        own = self.ok(self.create([matcher("alertname", "A2")]))["silenceID"]
        before = AM.silences()
        writes = [
            self.create([matcher("alertname", "A1")], token=READER),
            self.req("POST", "/api/v2/silences", token=READER,
                     body=silence_body([matcher("alertname", "A1")], sid=own)),
            self.req("DELETE", "/api/v2/silence/" + own, token=READER),
            self.req("DELETE", "/api/v2/silence/" + SEED["alpha"], token=READER),
        ]
        for r in writes:
            check_am_error(self, r, 403, contains="may not")
        self.assertEqual(AM.silences(), before)
        # reading still works
        self.assertIn(own, {s["id"] for s in self.ok(self.req("GET", "/api/v2/silences",
                                                             token=READER))})
        self.ok(self.req("GET", "/api/v2/silence/" + own, token=READER))
        check_am_error(self, self.create([matcher("a", "b")], token=MALLORY,
                                         query=[("namespace", "alpha")]), 403)


class Refused(Base):
    def test_paths_not_served(self):
        n_alerts = len(AM.alerts())
        r = self.req("POST", "/api/v2/alerts", body=[{"labels": {"alertname": "Injected",
                                                                 "namespace": "alpha"}}])
        check_am_error(self, r, 404)
        for path in ("/api/v2/receivers", "/api/v2/alerts/", "/api/v2/silence", "/api/v2",
                     "/api/v1/silences", "/api/v2/silence/%s/x" % SEED["alpha"]):
            with self.subTest(path=path):
                r = self.req("GET", path)
                self.assertEqual(r.status, 404, r)
        self.assertEqual(len(AM.alerts()), n_alerts)
        self.assertNotIn("Injected", json.dumps(AM.alerts()))
        r = self.req("DELETE", "/api/v2/silences")
        check_am_error(self, r, 405)
        self.assertEqual(r.header("Allow"), "GET, POST")

    def test_status_without_config(self):
        direct = AM.call("GET", "/api/v2/status")[1]
        self.assertIn("blackhole", direct["config"]["original"])
        got = self.ok(self.req("GET", "/api/v2/status"))
        self.assertEqual(got["config"], {"original": ""})
        self.assertEqual(got["versionInfo"], direct["versionInfo"])
        self.assertEqual(got["cluster"]["status"], "disabled")
        # Grafana's Alertmanager data source "Save & test": the Mimir probe 404s,
        # /api/v2/status answers 200
        self.assertEqual(self.req("GET", "/alertmanager/api/v2/status").status, 404)

    def test_metrics_name_the_routes(self):
        self.ok(self.req("GET", "/api/v2/alerts"))
        self.ok(self.req("GET", "/api/v2/alerts/groups"))
        self.ok(self.req("GET", "/api/v2/silences"))
        self.ok(self.req("GET", "/api/v2/silence/" + SEED["alpha"]))
        self.ok(self.req("GET", "/api/v2/status"))
        text = self.gate.metrics()
        for route in ("am_alerts", "am_alert_groups", "am_silences", "am_silence", "am_status"):
            self.assertIn('tenantgate_requests_total{route="%s",code="200"}' % route, text)

    def test_unauthenticated(self):
        r = self.req("GET", "/api/v2/alerts", token="nope")
        check_am_error(self, r, 401)
        r = self.req("GET", "/api/v2/alerts", token=MALLORY, query=[("namespace", "alpha")])
        check_am_error(self, r, 403)


class BadInput(unittest.TestCase):
    """Bad input never reaches the Alertmanager: here a recording fake one."""

    @classmethod
    def setUpClass(cls):
        cls.am = fake_upstream.FakeUpstream()
        cls.am.mode = "json"
        cls.gate = tg.TenantGate(cls.am.url, tokens=TOKENS,
                                 config=CONFIG + "alertmanager:\n  maxBodyBytes: 2Ki\n",
                                 name="tenantgate-am-bad")

    @classmethod
    def tearDownClass(cls):
        rc = cls.gate.stop()
        cls.am.stop()
        assert rc == 0, "tenantgate exit code %r" % rc

    def post(self, raw, ctype="application/json", token=WRITER):
        return self.gate.request("POST", "/api/v2/silences", token=token, body=raw,
                                 headers={"Content-Type": ctype} if ctype else {})

    def test_refused_before_the_upstream(self):
        good = json.dumps(silence_body([matcher("alertname", "A")]))
        cases = [
            (self.post(b"{bad"), 400, 400, "parsing silence body"),
            (self.post(b""), 422, 602, "silence in body is required"),
            (self.post(json.dumps({"comment": "x"}).encode()), 422, 602, "matchers in body is required"),
            (self.post(json.dumps(silence_body([])).encode()), 422, 612, "at least 1 items"),
            (self.post(json.dumps(silence_body([{"name": "a", "value": "b"}])).encode()), 422, 602,
             "matchers.0.isRegex in body is required"),
            (self.post(good.replace('"matchers"', '"matcherSets":[],"matchers"').encode()), 400,
             None, "several matcher sets"),
            (self.post(good.replace('"comment"', '"comment":"a","comment"').encode()), 400, 400,
             "duplicate key"),
            (self.post(good.encode(), ctype="text/plain"), 415, 415, "only [application/json]"),
            (self.post(good.encode(), ctype=None), 415, 415, "only [application/json]"),
            (self.post(json.dumps(silence_body([matcher("a", "x" * 4000)])).encode()), 413, 413,
             "maxBodyBytes"),
            (self.gate.request("GET", "/api/v2/alerts", token=WRITER,
                               query=[("filter", 'a="b')]), 400, None, "unescaped double quote"),
            (self.gate.request("GET", "/api/v2/silences", token=WRITER,
                               query=[("filter", "1a=b")]), 400, None, "bad matcher format"),
            (self.gate.request("DELETE", "/api/v2/silence/../x", token=WRITER), 400, None,
             "non-canonical"),
            (self.gate.request("GET", "/api/v2/silence/zzz", token=WRITER), 422, 601, "uuid"),
            (self.post(good.encode(), token=READER), 403, 403, "may not create"),
        ]
        for r, status, code, contains in cases:
            with self.subTest(status=status, contains=contains):
                check_am_error(self, r, status, contains=contains, code=code)
        self.assertEqual(self.am.count(), 0, self.am.requests)

    def test_what_is_sent(self):
        """Without --alertmanager-upstream /api/v2 goes to --upstream, rebuilt: the
        tenant parameter and unknown parameters are not sent, filters come in
        Alertmanager's spelling, the silence body is written anew."""
        self.am.reset_state()
        self.am.mode = "json"
        self.am.body = []
        r = self.gate.request("GET", "/api/v2/alerts", token=WRITER,
                              query=[("filter", " alertname = A1 "), ("active", "true"),
                                     ("namespace", "alpha"), ("debug", "1")])
        self.assertEqual(r.status, 200, r)
        sent = self.am.last()
        self.assertEqual(sent["path"], "/api/v2/alerts")
        self.assertEqual(sent["params"], [("filter", 'namespace="alpha"'),
                                          ("filter", 'alertname="A1"'), ("active", "true")])
        self.assertNotIn("authorization", {k.lower() for k, _ in sent["headers"]})
        self.am.body = {"silenceID": "x"}
        body = silence_body([matcher("namespace", "beta"), matcher("alertname", "A1")])
        body["unknown"] = {"namespace": "beta"}
        r = self.gate.request("POST", "/api/v2/silences", token=WRITER,
                              body=json.dumps(body).encode(),
                              headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 200, r)
        sent = json.loads(self.am.last()["body"])
        self.assertEqual(sent["matchers"], [matcher("namespace", "alpha"),
                                            matcher("alertname", "A1")])
        self.assertNotIn("unknown", sent)
        self.assertEqual(sent["comment"], "test")


class Amtool(Base):
    """amtool 0.25 as a real client, with a service account's token: its namespace
    (alpha) is the tenant, no parameter needed."""

    def amtool(self, token, *args):
        d = subdir("amtool")
        cfg = os.path.join(d, "http.yml")
        with open(cfg, "w") as f:
            f.write("authorization:\n  credentials: %s\n" % token)
        return subprocess.run([AMTOOL, "--alertmanager.url=" + self.gate.url + "/",
                               "--http.config.file=" + cfg] + list(args),
                              capture_output=True, text=True, timeout=30)

    def test_alert_and_silence_query(self):
        # every state (-a -s -i -u): whether Alertmanager has marked an alert
        # silenced yet depends on its pipeline's timing
        every = ("-a", "-s", "-i", "-u")
        p = self.amtool(WRITER, "alert", "query", "-o", "json", *every)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(namespaces(json.loads(p.stdout)), {"alpha"})
        self.assertEqual(len(json.loads(p.stdout)), 2)
        p = self.amtool(WRITER, "alert", "query", "-o", "json", *(every + ("severity=page",)))
        self.assertEqual([a["labels"]["alertname"] for a in json.loads(p.stdout)], ["A1"])
        p = self.amtool(WRITER, "silence", "query", "-q")
        self.assertEqual(p.returncode, 0, p.stderr)
        ids = set(p.stdout.split())
        self.assertIn(SEED["alpha"], ids)
        self.assertFalse(ids & {SEED[k] for k in ("beta", "not_alpha", "regex_alpha", "no_ns")})

    def test_silence_add_and_expire(self):
        p = self.amtool(WRITER, "silence", "add", "alertname=A2", "namespace=beta",
                        "--comment=from amtool", "--duration=1h")
        self.assertEqual(p.returncode, 0, p.stderr)
        sid = p.stdout.strip()
        sil = AM.silence(sid)
        self.assertEqual(label_matchers(sil), [("alpha", False, True)])
        self.assertEqual(sil["comment"], "from amtool")
        p = self.amtool(WRITER, "silence", "expire", sid)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(AM.silence(sid)["status"]["state"], "expired")
        # someone else's silence cannot be expired
        p = self.amtool(WRITER, "silence", "expire", SEED["beta"])
        self.assertNotEqual(p.returncode, 0)
        self.assertEqual(AM.silence(SEED["beta"])["status"]["state"], "active")

    def test_read_only_identity(self):
        before = AM.silences()
        p = self.amtool(READER, "silence", "add", "alertname=A2", "--comment=no", "--duration=1h")
        self.assertNotEqual(p.returncode, 0, p.stdout)
        self.assertIn("403", p.stderr)
        p = self.amtool(READER, "silence", "expire", SEED["alpha"])
        self.assertNotEqual(p.returncode, 0, p.stdout)
        self.assertEqual(AM.silences(), before)
        p = self.amtool(READER, "silence", "query", "-q")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(SEED["alpha"], p.stdout.split())


class FakeAlertmanager(unittest.TestCase):
    """The Alertmanager upstream as a recording fake (modes close_on_reuse, 404,
    oversized), --upstream another that must see nothing: silence writes lost on a
    reused connection are never sent twice, while reads (the PH_SILENCE fetch
    included) get their one retry; the fetch goes to --alertmanager-upstream, with
    its Host. A fresh tenantgate and fakes per test: connection numbers start at 1."""

    SID = "6f0c5b84-1111-4000-8000-000000000001"

    def setUp(self):
        self.prom = fake_upstream.FakeUpstream()
        self.am = fake_upstream.FakeUpstream()
        self.gate = tg.TenantGate(self.prom.url, tokens=TOKENS, config=CONFIG,
                                  extra_args=["--alertmanager-upstream", self.am.url],
                                  name="tenantgate-am-fake")

    def tearDown(self):
        rc = self.gate.stop()
        self.am.stop()
        self.prom.stop()
        self.assertEqual(self.prom.count(), 0, self.prom.requests)
        self.assertEqual(rc, 0, "tenantgate exit code")

    def req(self, method, path, body=None):
        h = {"Content-Type": "application/json"} if body is not None else {}
        return self.gate.request(method, path, token=WRITER, headers=h,
                                 body=json.dumps(body).encode() if body is not None else None)

    def sent(self):
        return [(x["method"], x["path"], x["conn"], x["nth"]) for x in self.am.requests]

    def owned(self):
        """One silence of alpha's, the same every time it is asked for."""
        if not hasattr(self, "_owned"):
            b = silence_body([matcher("namespace", "alpha"), matcher("alertname", "A1")],
                             sid=self.SID)
            b.update(status={"state": "active"}, updatedAt=b["startsAt"])
            self._owned = b
        return dict(self._owned)

    def test_create_on_a_stale_connection_not_retried(self):
        self.am.mode = "close_on_reuse"
        self.am.body = []
        self.assertEqual(self.req("GET", "/api/v2/silences").status, 200)
        self.am.body = {"silenceID": self.SID}
        r = self.req("POST", "/api/v2/silences", silence_body([matcher("alertname", "A1")]))
        check_am_error(self, r, 502)
        self.assertEqual(self.sent(), [("GET", "/api/v2/silences", 1, 1),
                                       ("POST", "/api/v2/silences", 1, 2)])
        # the same place for a read: sent again on a new connection
        self.am.body = []
        self.assertEqual(self.req("GET", "/api/v2/silences").status, 200)
        self.assertEqual(self.req("GET", "/api/v2/silences").status, 200)
        self.assertEqual(self.sent()[2:], [("GET", "/api/v2/silences", 2, 1),
                                           ("GET", "/api/v2/silences", 2, 2),
                                           ("GET", "/api/v2/silences", 3, 1)])

    def test_fetch_goes_to_alertmanager_writes_after_it_not_retried(self):
        self.am.mode = "close_on_reuse"
        self.am.body = self.owned()
        one = "/api/v2/silence/" + self.SID
        # update: the fetch opens connection 1, the POST reuses it and is lost
        r = self.req("POST", "/api/v2/silences",
                     silence_body([matcher("alertname", "A1")], sid=self.SID))
        check_am_error(self, r, 502)
        self.assertEqual(self.sent(), [("GET", one, 1, 1), ("POST", "/api/v2/silences", 1, 2)])
        self.assertEqual(dict(self.am.requests[0]["headers"])["Host"],
                         "127.0.0.1:%d" % self.am.port)
        # expire: the same with DELETE
        check_am_error(self, self.req("DELETE", one), 502)
        self.assertEqual(self.sent()[2:], [("GET", one, 2, 1), ("DELETE", one, 2, 2)])
        # the fetch itself is a read: lost on a reused connection, sent again
        self.assertEqual(self.req("GET", one).json(), self.owned())
        r = self.req("GET", one)
        self.assertEqual((r.status, r.json()), (200, self.owned()), r)
        self.assertEqual(self.sent()[4:], [("GET", one, 3, 1), ("GET", one, 3, 2),
                                           ("GET", one, 4, 1)])

    def test_missing_silence_is_404_and_nothing_written(self):
        self.am.status = 404
        self.am.body = b"silence not found"
        one = "/api/v2/silence/" + self.SID
        check_am_error(self, self.req("GET", one), 404, contains="silence not found")
        check_am_error(self, self.req("DELETE", one), 404, contains="silence not found")
        r = self.req("POST", "/api/v2/silences",
                     silence_body([matcher("alertname", "A1")], sid=self.SID))
        check_am_error(self, r, 404)
        self.assertEqual([m for m, _, _, _ in self.sent()], ["GET"] * 3)

    def test_fetched_silence_bounded(self):
        big = self.owned()
        big["comment"] = "x" * (1 << 20)
        self.am.body = big
        one = "/api/v2/silence/" + self.SID
        check_am_error(self, self.req("GET", one), 502, contains="cannot read the silence")
        check_am_error(self, self.req("DELETE", one), 502, contains="cannot read the silence")
        self.assertEqual([m for m, _, _, _ in self.sent()], ["GET"] * 2)


class Kubernetes(unittest.TestCase):
    """TokenReview + SubjectAccessReview: writes are asked with create / update /
    delete on alertmanager.resourceAttributes (OpenShift's prometheusrules)."""

    @classmethod
    def setUpClass(cls):
        cls.dir = subdir("am-fakekube")
        fakekube.make_pki(cls.dir)
        policy = {
            "callers": ["proxy-token"],
            "tokens": {
                "sa-writer": {"username": "system:serviceaccount:alpha:silencer",
                              "groups": ["system:serviceaccounts"]},
                "sa-reader": {"username": "system:serviceaccount:alpha:looker",
                              "groups": ["system:serviceaccounts"]},
            },
            "rules": [
                {"users": ["system:serviceaccount:alpha:silencer"], "namespaces": ["alpha"],
                 "verbs": ["get", "create", "update", "delete"], "resources": ["prometheusrules"]},
                {"users": ["system:serviceaccount:alpha:looker"], "namespaces": ["alpha"],
                 "verbs": ["get"], "resources": ["prometheusrules"]},
            ],
        }
        cls.fk = fakekube.FakeKube(cls.dir, policy).start()
        kc = {"apiVersion": "v1", "kind": "Config", "current-context": "t",
              "clusters": [{"name": "f", "cluster": {
                  "server": "https://127.0.0.1:%d" % cls.fk.port,
                  "certificate-authority": os.path.join(cls.dir, "ca.crt")}}],
              "contexts": [{"name": "t", "context": {"cluster": "f", "user": "me"}}],
              "users": [{"name": "me", "user": {"token": "proxy-token"}}]}
        kcpath = os.path.join(cls.dir, "kubeconfig.yaml")
        with open(kcpath, "w") as f:
            json.dump(kc, f)
        config = ("authorization:\n  resourceAttributes:\n    namespace: \"{{ .Value }}\"\n"
                  "    resource: namespaces\n    subresource: metrics\n"
                  "  rewrites:\n    byQueryParameter:\n      name: namespace\n"
                  "alertmanager:\n  resourceAttributes:\n    namespace: \"{{ .Value }}\"\n"
                  "    apiGroup: monitoring.coreos.com\n    resource: prometheusrules\n")
        cls.gate = tg.TenantGate(AM.url, tokens=None, config=config,
                                 extra_args=["--kubeconfig", kcpath], name="tenantgate-am-kube")

    @classmethod
    def tearDownClass(cls):
        rc = cls.gate.stop()
        cls.fk.stop()
        assert rc == 0, "tenantgate exit code %r" % rc

    def sars(self):
        return [r["spec"]["resourceAttributes"] for r in self.fk.state.stats()["reviews"]
                if r["kind"] == "subjectaccessreviews"]

    def test_write_verbs(self):
        g = self.gate
        h = {"Content-Type": "application/json"}
        r = g.request("POST", "/api/v2/silences", token="sa-writer",
                      body=json.dumps(silence_body([matcher("alertname", "A1")])).encode(),
                      headers=h)
        self.assertEqual(r.status, 200, r)
        sid = r.json()["silenceID"]
        self.assertEqual(label_matchers(AM.silence(sid)), [("alpha", False, True)])
        r = g.request("POST", "/api/v2/silences", token="sa-writer",
                      body=json.dumps(silence_body([matcher("alertname", "A1")], sid=sid,
                                                   comment="upd")).encode(), headers=h)
        self.assertEqual(r.status, 200, r)
        sid2 = r.json()["silenceID"]
        r = g.request("DELETE", "/api/v2/silence/" + sid2, token="sa-writer")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(AM.silence(sid2)["status"]["state"], "expired")
        verbs = [a["verb"] for a in self.sars()]
        self.assertEqual(verbs, ["create", "update", "delete"])
        for a in self.sars():
            self.assertEqual((a["namespace"], a.get("group"), a["resource"]),
                             ("alpha", "monitoring.coreos.com", "prometheusrules"))
        # the read-only service account: get allowed, create refused (asked as create)
        before = AM.silences()
        r = g.request("GET", "/api/v2/alerts", token="sa-reader")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(namespaces(r.json()), {"alpha"})
        r = g.request("POST", "/api/v2/silences", token="sa-reader",
                      body=json.dumps(silence_body([matcher("alertname", "A1")])).encode(),
                      headers=h)
        check_am_error(self, r, 403, contains="create")
        r = g.request("DELETE", "/api/v2/silence/" + SEED["alpha"], token="sa-reader")
        check_am_error(self, r, 403, contains="delete")
        self.assertEqual(AM.silences(), before)
        self.assertEqual([a["verb"] for a in self.sars()][-3:], ["get", "create", "delete"])


if __name__ == "__main__":
    main()
