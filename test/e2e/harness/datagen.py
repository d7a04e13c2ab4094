"""Generated multi-namespace data for the Prometheus fixture.

One function builds the OpenMetrics text (turned into TSDB blocks by
`promtool tsdb create-blocks-from openmetrics`), one the rules file, one the
Prometheus config. `python3 -m harness.datagen OUTDIR` (from test/e2e) writes
everything for scripts/demo.sh and prints the time range as JSON.

Namespaces: alpha, beta, gamma, "team.a" (regex metacharacter) and "teamxa"
(what an unescaped `team.a` regex would also match), plus series without a
namespace label. Every namespace has a metric no other namespace has
(`<ns>_only_widgets`, with `team.a` -> `team_a`) and a `tenant_secret_info`
series whose `secret` label names its namespace, so a leak is easy to see.
"""
import json
import os
import sys
import time

NAMESPACES = ["alpha", "beta", "gamma", "team.a", "teamxa"]
STEP = 60          # seconds between block samples
HOURS = 3          # block data covers [end - HOURS, end]
PODS = 2
CODES = ("200", "500")
BUCKETS = ("0.1", "0.5", "1", "+Inf")


def metric_ns(ns):
    return ns.replace(".", "_")


def only_metric(ns):
    """The metric name only namespace `ns` has."""
    return "%s_only_widgets" % metric_ns(ns)


def pods(ns):
    return ["%s-api-%d" % (ns, i) for i in range(PODS)]


def _esc(v):
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(d):
    return "{" + ",".join('%s="%s"' % (k, _esc(v)) for k, v in d.items()) + "}"


def time_range(now=None):
    """(start, end) in whole seconds: the block samples' first and last timestamps."""
    now = int(now if now is not None else time.time())
    end = now - now % STEP
    return end - HOURS * 3600, end


def series_catalog():
    """{metric family: (type, help, [(sample_name, labels, value_fn(i))])}
    value_fn(i) gives the value at the i-th timestamp."""
    fam = {}

    def add(name, typ, hlp, sample, labels, fn):
        fam.setdefault(name, (typ, hlp, []))[2].append((sample, labels, fn))

    for k, ns in enumerate(NAMESPACES):
        for p, pod in enumerate(pods(ns)):
            for c, code in enumerate(CODES):
                rate = (k + 1) * 10 + p * 2 + c
                add("http_requests", "counter", "Total HTTP requests.", "http_requests_total",
                    {"namespace": ns, "pod": pod, "job": "api", "code": code},
                    lambda i, r=rate: float(i * r))
            add("up", "gauge", "Target up.", "up",
                {"namespace": ns, "job": "api", "instance": "%s:8080" % pod}, lambda i: 1.0)
            add("kube_pod_info", "gauge", "Pod information.", "kube_pod_info",
                {"namespace": ns, "pod": pod, "node": "node-%d" % p, "job": "kube-state-metrics"},
                lambda i: 1.0)
        # a histogram
        cum = 0
        for b, le in enumerate(BUCKETS):
            cum += (b + 1) * (k + 1)
            add("http_request_duration_seconds", "histogram", "Request latency.",
                "http_request_duration_seconds_bucket",
                {"namespace": ns, "job": "api", "le": le}, lambda i, c=cum: float(i * c))
        add("http_request_duration_seconds", "histogram", "Request latency.",
            "http_request_duration_seconds_sum", {"namespace": ns, "job": "api"},
            lambda i, k=k: float(i * (k + 1)) * 0.25)
        add("http_request_duration_seconds", "histogram", "Request latency.",
            "http_request_duration_seconds_count", {"namespace": ns, "job": "api"},
            lambda i, c=cum: float(i * c))
        add("tenant_secret_info", "gauge", "Per-namespace secret marker.", "tenant_secret_info",
            {"namespace": ns, "secret": "%s-s3cr3t" % ns}, lambda i: 1.0)
        add(only_metric(ns), "gauge", "Only %s has this." % ns, only_metric(ns),
            {"namespace": ns, "job": "api"}, lambda i, k=k: float(k + 1))
    # series with no namespace label
    add("up", "gauge", "Target up.", "up", {"job": "node", "instance": "node-0:9100"}, lambda i: 1.0)
    add("node_load1", "gauge", "Load average.", "node_load1",
        {"job": "node", "instance": "node-0:9100"}, lambda i: 0.5)
    add("kube_node_info", "gauge", "Node information.", "kube_node_info",
        {"node": "node-0", "job": "kube-state-metrics"}, lambda i: 1.0)
    # beta's series that mention alpha in another label
    add("kube_service_info", "gauge", "Service information.", "kube_service_info",
        {"namespace": "beta", "exported_namespace": "alpha", "service": "beta-svc"}, lambda i: 1.0)
    return fam


def openmetrics(start, end):
    out = []
    n = (end - start) // STEP + 1
    for name, (typ, hlp, samples) in series_catalog().items():
        out.append("# HELP %s %s" % (name, hlp))
        out.append("# TYPE %s %s" % (name, typ))
        for sample, labels, fn in samples:
            lab = _labels(labels)
            for i in range(n):
                out.append("%s%s %s %d" % (sample, lab, repr(fn(i)), start + i * STEP))
    out.append("# EOF")
    return "\n".join(out) + "\n"


def expected_namespaces_with_data():
    return list(NAMESPACES)


# ---------------------------------------------------------------- rules
# Fresh series written every evaluation (federation reads only the last 5m):
FRESH_METRIC = "tg:fresh_heartbeat"


def rule_groups():
    """Rules as a Python structure (also used by tests to know what to expect).
    Each per-namespace group has a recording and two alerting rules carrying
    `namespace` in their labels; group `mixed` has alpha's, beta's and
    namespace-less rules; group `cluster` has only namespace-less rules."""
    groups = []
    for ns in NAMESPACES:
        m = metric_ns(ns)
        groups.append({
            "name": "ns-%s" % ns,
            "interval": "1s",
            "rules": [
                {"record": FRESH_METRIC, "expr": "vector(1)", "labels": {"namespace": ns}},
                {"record": "namespace:http_requests:rate5m",
                 "expr": 'sum by (namespace) (rate(http_requests_total{namespace="%s"}[5m]))' % ns,
                 "labels": {"namespace": ns}},
                {"alert": "%sAlwaysFiring" % m.capitalize(), "expr": "vector(1)", "for": "0s",
                 "labels": {"namespace": ns, "severity": "warning"},
                 "annotations": {"summary": "always firing for %s" % ns}},
                {"alert": "%sUp" % m.capitalize(), "expr": 'up{namespace="%s"} >= 0' % ns,
                 "for": "0s", "labels": {"namespace": ns, "severity": "info"}},
            ],
        })
    groups.append({
        "name": "mixed", "interval": "1s",
        "rules": [
            {"record": "tg:mixed_alpha", "expr": "vector(2)", "labels": {"namespace": "alpha"}},
            {"record": "tg:mixed_beta", "expr": "vector(3)", "labels": {"namespace": "beta"}},
            {"record": "tg:mixed_cluster", "expr": "vector(4)"},
            {"alert": "MixedAlpha", "expr": "vector(1)", "for": "0s",
             "labels": {"namespace": "alpha"}},
            {"alert": "MixedBeta", "expr": "vector(1)", "for": "0s",
             "labels": {"namespace": "beta"}},
            {"alert": "MixedClusterWide", "expr": "vector(1)", "for": "0s"},
        ],
    })
    groups.append({
        "name": "cluster", "interval": "1s",
        "rules": [
            {"record": "cluster:up:count", "expr": "count(up)"},
            {"alert": "ClusterAlwaysFiring", "expr": "vector(1)", "for": "0s",
             "labels": {"severity": "critical"}},
        ],
    })
    return groups


def _yaml_scalar(v):
    # JSON strings are valid YAML scalars
    return json.dumps(v)


def rules_yaml():
    out = ["groups:"]
    for g in rule_groups():
        out.append("- name: %s" % _yaml_scalar(g["name"]))
        out.append("  interval: %s" % g["interval"])
        out.append("  rules:")
        for r in g["rules"]:
            first = True
            for key in ("record", "alert", "expr", "for", "labels", "annotations"):
                if key not in r:
                    continue
                prefix = "  - " if first else "    "
                first = False
                v = r[key]
                if isinstance(v, dict):
                    out.append("%s%s: {%s}" % (prefix, key, ", ".join(
                        "%s: %s" % (k, _yaml_scalar(x)) for k, x in v.items())))
                else:
                    out.append("%s%s: %s" % (prefix, key, _yaml_scalar(v)))
    return "\n".join(out) + "\n"


def prometheus_yaml(rules_file, self_port, extra_scrape=None):
    """Config for the fixture Prometheus: rules, a self-scrape (fresh samples
    without a namespace label) and optional extra scrape configs (YAML text)."""
    out = [
        "global:",
        "  scrape_interval: 1s",
        "  evaluation_interval: 1s",
        "rule_files: [%s]" % _yaml_scalar(rules_file),
        "scrape_configs:",
        "- job_name: prometheus",
        "  static_configs: [{targets: ['127.0.0.1:%d']}]" % self_port,
    ]
    if extra_scrape:
        out.append(extra_scrape.rstrip("\n"))
    return "\n".join(out) + "\n"


def write_fixture(outdir, prom_port, now=None, extra_scrape=None):
    """Write data.om, rules.yml, prometheus.yml into outdir; return the
    (start, end) time range. Blocks are not built here (see prom.py)."""
    os.makedirs(outdir, exist_ok=True)
    start, end = time_range(now)
    with open(os.path.join(outdir, "data.om"), "w") as f:
        f.write(openmetrics(start, end))
    rules = os.path.join(outdir, "rules.yml")
    with open(rules, "w") as f:
        f.write(rules_yaml())
    with open(os.path.join(outdir, "prometheus.yml"), "w") as f:
        f.write(prometheus_yaml(rules, prom_port, extra_scrape))
    return start, end


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.stderr.write("usage: python3 -m harness.datagen OUTDIR PROMETHEUS_PORT\n")
        sys.exit(2)
    s, e = write_fixture(sys.argv[1], int(sys.argv[2]))
    print(json.dumps({"start": s, "end": e, "step": STEP}))
