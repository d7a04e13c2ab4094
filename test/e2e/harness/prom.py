"""The Prometheus fixture: generated blocks + rules + a fake exporter with
exemplars and metadata, served by a real /usr/bin/prometheus on loopback."""
import http.server
import json
import os
import shutil
import subprocess
import threading
import time
import urllib.parse
import urllib.request

from . import datagen
from .proc import Proc, free_port, subdir, wait_until

PROMETHEUS = os.environ.get("TG_PROMETHEUS", shutil.which("prometheus") or "/usr/bin/prometheus")
PROMTOOL = os.environ.get("TG_PROMTOOL", shutil.which("promtool") or "/usr/bin/promtool")

EXPORTER_NAMESPACES = ["alpha", "beta", "gamma"]
EXPORTER_METRIC = "tg_exporter_requests_total"


def exporter_only_metric(ns):
    """Scraped metric (so it has metadata) that only namespace ns has."""
    return "tg_exporter_%s_only_bytes" % datagen.metric_ns(ns)


class _ExporterHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_GET(self):
        srv = self.server
        srv.scrapes += 1
        n = srv.scrapes
        lines = ["# TYPE tg_exporter_requests counter",
                 "# HELP tg_exporter_requests Requests seen by the fake exporter."]
        for k, ns in enumerate(EXPORTER_NAMESPACES):
            ts = time.time()
            lines.append('tg_exporter_requests_total{namespace="%s",pod="%s-api-0"} %d '
                         '# {trace_id="%s-trace-%d"} 1.0 %.3f' % (ns, ns, n * (k + 1), ns, n, ts))
        for ns in EXPORTER_NAMESPACES:
            name = exporter_only_metric(ns)
            lines.append("# TYPE %s gauge" % name)
            lines.append("# HELP %s Only %s exports this." % (name, ns))
            lines.append("# UNIT %s bytes" % name)
            lines.append('%s{namespace="%s"} 42' % (name, ns))
        lines.append("# TYPE tg_exporter_build_info gauge")
        lines.append("# HELP tg_exporter_build_info Cluster-wide, no namespace.")
        lines.append('tg_exporter_build_info{version="1"} 1')
        lines.append("# EOF")
        body = ("\n".join(lines) + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/openmetrics-text; version=1.0.0; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Exporter:
    def __init__(self):
        self.port = free_port()
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), _ExporterHandler)
        self.httpd.daemon_threads = True
        self.httpd.scrapes = 0
        self.t = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.t.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class Prometheus:
    """A running Prometheus with the generated data.

    Attributes: url, port, start/end (block data time range, whole seconds:
    query at `end` or inside [start, end]), dir."""

    def __init__(self, exporter=True, extra_scrape=None, name="prometheus", with_data=True,
                 config_text=None):
        self.dir = subdir(name)
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.exporter = Exporter() if exporter else None
        scrape = extra_scrape or ""
        if self.exporter:
            scrape += ("- job_name: exporter\n  honor_labels: true\n"
                       "  static_configs: [{targets: ['127.0.0.1:%d']}]\n" % self.exporter.port)
        data = os.path.join(self.dir, "data")
        cfg = os.path.join(self.dir, "prometheus.yml")
        if with_data:
            self.start, self.end = datagen.write_fixture(self.dir, self.port, extra_scrape=scrape)
            out = subprocess.run([PROMTOOL, "tsdb", "create-blocks-from", "openmetrics",
                                  os.path.join(self.dir, "data.om"), data],
                                 capture_output=True, text=True, timeout=120)
            if out.returncode != 0:
                raise RuntimeError("promtool create-blocks failed:\n%s%s" % (out.stdout, out.stderr))
        else:
            self.start = self.end = int(time.time())
            with open(cfg, "w") as f:
                f.write(config_text or datagen.prometheus_yaml("/dev/null", self.port, scrape))
        if config_text:
            with open(cfg, "w") as f:
                f.write(config_text)
        self.proc = Proc(name, [
            PROMETHEUS, "--config.file=" + cfg, "--storage.tsdb.path=" + data,
            "--web.listen-address=127.0.0.1:%d" % self.port,
            "--storage.tsdb.retention.time=30d", "--enable-feature=exemplar-storage",
            "--log.level=warn"])
        wait_until(lambda: _ok(self.url + "/-/ready"), 30, "prometheus ready", proc=self.proc)

    def api(self, path, **params):
        """GET self.url+path straight from Prometheus (no proxy); returns parsed JSON."""
        q = urllib.parse.urlencode(params, doseq=True)
        with urllib.request.urlopen(self.url + path + ("?" + q if q else ""), timeout=10) as r:
            return json.load(r)

    def wait_fresh(self, timeout=20):
        """Until rules evaluated, alerts fire and the exporter was scraped."""
        def ready():
            a = self.api("/api/v1/query", query='count(%s)' % datagen.FRESH_METRIC)["data"]["result"]
            if not a or int(a[0]["value"][1]) < len(datagen.NAMESPACES):
                return False
            al = self.api("/api/v1/alerts")["data"]["alerts"]
            if len([x for x in al if x["state"] == "firing"]) < len(datagen.NAMESPACES):
                return False
            if self.exporter:
                e = self.api("/api/v1/query", query="count(%s)" % EXPORTER_METRIC)["data"]["result"]
                if not e or int(e[0]["value"][1]) < len(EXPORTER_NAMESPACES):
                    return False
                md = self.api("/api/v1/metadata")["data"]
                if exporter_only_metric("alpha") not in md:
                    return False
            return True
        wait_until(ready, timeout, "prometheus rules/alerts/exporter data", interval=0.2,
                   proc=self.proc)

    def stop(self):
        self.proc.stop()
        if self.exporter:
            self.exporter.stop()


def _ok(url):
    try:
        with urllib.request.urlopen(url, timeout=1) as r:
            return r.status == 200
    except Exception:
        return False
