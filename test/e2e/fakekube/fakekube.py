#!/usr/bin/env python3
"""A fake Kubernetes API server for tests: TokenReview and SubjectAccessReview
over real HTTPS (Python 3 stdlib only).

Use as a library (FakeKube(...).start()) or as a program:

    fakekube.py --dir DIR [--port 0] --policy policy.json

which writes DIR/{ca.crt,server.crt,server.key,client.crt,client.key} with
the openssl CLI, prints "listening PORT" and serves until killed.

Policy (JSON):
  {
    "callers": ["sa-token"],          # bearer tokens accepted from the proxy
    "caller_cns": ["tenantgate"],     # or client certificate CNs (signed by DIR/ca.crt)
    "api_audiences": ["https://kubernetes.default.svc"],
    "tokens": {"tok": {"username": "alice", "uid": "1", "groups": [...],
                       "extra": {"k": ["v"]},
                       "audiences": ["tenantgate"],          # default: api_audiences
                       "report_audiences": ["other"]}},      # answer these, skip the check
    "rules": [{"users": ["alice"], "groups": [], "namespaces": ["alpha"],
               "verbs": ["get"], "resources": ["pods"], "paths": ["/metrics"]}]
  }
  "*" matches anything in namespaces/verbs/resources/paths. As in RBAC, a
  resource "r/s" grants subresource s of r, and a plain "r" grants r only
  (not its subresources).

Control (plain JSON on the same TLS port, no authentication):
  GET  /_fake/stats   counters: tokenreviews, sars, requests, connections,
                      unauthorized, injected, callers {token-or-cn: count}, last_caller,
                      reviews: the specs of the last 200 reviews, oldest first, as
                      {"kind": "tokenreviews"|"subjectaccessreviews", "spec": {...}}
  POST /_fake/config  {"delay_ms": N, "fail": "500"|"429"|"drop"|null,
                       "fail_count": N (-1 = until changed), "retry_after": S,
                       "fail_kinds": ["tokenreviews", "subjectaccessreviews"],
                       "hold": true: reviews wait until released (stats "held" counts
                       them; "answered" counts reviews done, late ones included)}
  POST /_fake/release answer every held review (and stop holding)
  POST /_fake/policy  replace the policy
  POST /_fake/reset   zero the counters and clear failures/delay
"""
import argparse
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TR_PATH = "/apis/authentication.k8s.io/v1/tokenreviews"
SAR_PATH = "/apis/authorization.k8s.io/v1/subjectaccessreviews"


def _openssl(*args):
    subprocess.run(["openssl", *args], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def make_ca(d, name="ca"):
    """A self-signed CA: d/name.crt, d/name.key."""
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", f"{d}/{name}.key", "-out", f"{d}/{name}.crt",
             "-subj", f"/CN=fakekube-{name}", "-days", "2")


def make_cert(d, name, cn, ca="ca", san=None, client=False):
    """A leaf certificate d/name.{crt,key} signed by d/ca.{crt,key}."""
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", f"{d}/{name}.key", "-out", f"{d}/{name}.csr", "-subj", f"/CN={cn}")
    ext = f"{d}/{name}.ext"
    with open(ext, "w") as f:
        if san:
            f.write(f"subjectAltName={san}\n")
        f.write("extendedKeyUsage=%s\n" % ("clientAuth" if client else "serverAuth"))
    _openssl("x509", "-req", "-in", f"{d}/{name}.csr", "-CA", f"{d}/{ca}.crt", "-CAkey",
             f"{d}/{ca}.key", "-CAcreateserial", "-out", f"{d}/{name}.crt", "-days", "2",
             "-extfile", ext)


def make_pki(d):
    make_ca(d)
    make_cert(d, "server", "fakekube", san="IP:127.0.0.1,IP:::1,DNS:localhost,DNS:fakekube.test")
    make_cert(d, "client", "tenantgate", client=True)


def _status(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


def _match(patterns, value):
    return any(p == "*" or p == value for p in (patterns or []))


def _match_resource(patterns, resource, subresource):
    want = resource + "/" + subresource if subresource else resource
    return any(p == "*" or p == want for p in (patterns or []))


class State:
    def __init__(self, policy):
        self.lock = threading.Lock()
        self.policy = policy
        self.reset()

    def reset(self):
        if getattr(self, "hold", None) is not None:
            self.release()  # never leave a review held behind
        with self.lock:
            # "held" is live state (released reviews are on their way out)
            held = self.counters["held"] if hasattr(self, "counters") else 0
            self.counters = {"tokenreviews": 0, "sars": 0, "requests": 0, "connections": 0,
                             "unauthorized": 0, "injected": 0, "held": held, "answered": 0}
            self.callers = {}
            self.last_caller = None
            self.reviews = []
            self.delay_ms = 0
            self.fail = None
            self.fail_count = 0
            self.retry_after = 1
            self.fail_kinds = None
            self.hold = None  # a threading.Event while holding

    def release(self):
        """Let every held review go on (the test decides when, not a timer)."""
        with self.lock:
            ev, self.hold = self.hold, None
        if ev is not None:
            ev.set()

    def stats(self):
        with self.lock:
            return dict(self.counters, callers=dict(self.callers), last_caller=self.last_caller,
                        reviews=list(self.reviews))

    def log_review(self, kind, spec):
        with self.lock:
            self.reviews.append({"kind": kind, "spec": spec})
            del self.reviews[:-200]

    def configure(self, cfg):
        with self.lock:
            if "delay_ms" in cfg:
                self.delay_ms = int(cfg["delay_ms"])
            if "fail" in cfg:
                self.fail = cfg["fail"]
                self.fail_count = int(cfg.get("fail_count", -1))
            if "retry_after" in cfg:
                self.retry_after = cfg["retry_after"]
            if "fail_kinds" in cfg:
                self.fail_kinds = cfg["fail_kinds"]
            if cfg.get("hold") and self.hold is None:
                self.hold = threading.Event()

    def take_failure(self, kind):
        """The failure to inject for this request, if any."""
        with self.lock:
            if not self.fail or self.fail_count == 0:
                return None
            if self.fail_kinds and kind not in self.fail_kinds:
                return None
            if self.fail_count > 0:
                self.fail_count -= 1
            self.counters["injected"] += 1
            return self.fail


def token_review(policy, spec):
    api_aud = policy.get("api_audiences", ["https://kubernetes.default.svc"])
    requested = spec.get("audiences") or api_aud
    entry = policy.get("tokens", {}).get(spec.get("token", ""))
    status = {"user": {}}
    if entry is None:
        status["error"] = "[invalid bearer token, token lookup failed]"
        return status
    if "report_audiences" in entry:  # an authenticator that ignores spec.audiences
        auds = entry["report_audiences"]
    else:
        have = entry.get("audiences", api_aud)
        auds = [a for a in requested if a in have]
        if not auds:
            status["error"] = ("[invalid bearer token, token audiences %s is invalid for the "
                               "target audiences %s]" % (have, requested))
            return status
    user = {"username": entry["username"]}
    for k in ("uid", "groups", "extra"):
        if k in entry:
            user[k] = entry[k]
    return {"authenticated": True, "user": user, "audiences": auds}


def subject_access_review(policy, spec):
    user = spec.get("user", "")
    groups = spec.get("groups") or []
    ra = spec.get("resourceAttributes")
    nra = spec.get("nonResourceAttributes")
    for i, rule in enumerate(policy.get("rules", [])):
        if not (user in rule.get("users", []) or any(g in rule.get("groups", []) for g in groups)):
            continue
        if ra is not None:
            if (_match(rule.get("namespaces"), ra.get("namespace", "")) and
                    _match(rule.get("verbs"), ra.get("verb", "")) and
                    _match_resource(rule.get("resources"), ra.get("resource", ""),
                                    ra.get("subresource", ""))):
                return {"allowed": True, "reason": f"allowed by fake rule {i}"}
        elif nra is not None:
            if _match(rule.get("paths"), nra.get("path", "")) and \
                    _match(rule.get("verbs"), nra.get("verb", "")):
                return {"allowed": True, "reason": f"allowed by fake rule {i}"}
    return {"allowed": False}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the API server
    disable_nagle_algorithm = True  # as Go: no 40 ms delayed-ACK stall between head and body
    timeout = 30

    def setup(self):
        super().setup()
        try:
            self.connection.do_handshake()
        except (ssl.SSLError, OSError):
            self.close_connection = True
        with self.server.state.lock:
            self.server.state.counters["connections"] += 1
            self.server.open_conns.add(self.connection)

    def finish(self):
        try:
            super().finish()
        finally:
            with self.server.state.lock:
                self.server.open_conns.discard(self.connection)

    def log_message(self, fmt, *args):
        if os.environ.get("FAKEKUBE_VERBOSE"):
            sys.stderr.write("fakekube: " + (fmt % args) + "\n")

    def _send(self, code, obj, extra_headers=()):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra_headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _caller(self):
        st = self.server.state
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            tok = auth[7:]
            return tok if tok in st.policy.get("callers", []) else None
        try:
            cert = self.connection.getpeercert()
        except (ValueError, AttributeError):
            cert = None
        if cert:
            for rdn in cert.get("subject", ()):
                for k, v in rdn:
                    if k == "commonName" and v in st.policy.get("caller_cns", []):
                        return "cn:" + v
        return None

    def do_GET(self):
        if self.path == "/_fake/stats":
            return self._send(200, self.server.state.stats())
        self._send(404, _status(404, "NotFound", "not found"))

    def do_POST(self):
        st = self.server.state
        raw = self._body()
        if self.path.startswith("/_fake/"):
            return self._control(raw)
        kind = {TR_PATH: "tokenreviews", SAR_PATH: "subjectaccessreviews"}.get(self.path)
        with st.lock:
            st.counters["requests"] += 1
        if kind is None:
            return self._send(404, _status(404, "NotFound", "the server could not find the "
                                                            "requested resource"))
        caller = self._caller()
        if caller is None:
            with st.lock:
                st.counters["unauthorized"] += 1
            return self._send(401, _status(401, "Unauthorized", "Unauthorized"))
        with st.lock:
            st.callers[caller] = st.callers.get(caller, 0) + 1
            st.last_caller = caller
            delay = st.delay_ms
            hold = st.hold
            if hold is not None:
                st.counters["held"] += 1
        if hold is not None:
            hold.wait(60)
            with st.lock:
                st.counters["held"] -= 1
        if delay:
            time.sleep(delay / 1000.0)
        try:
            self._review(st, kind, raw)
        finally:
            with st.lock:
                st.counters["answered"] += 1

    def _review(self, st, kind, raw):
        failure = st.take_failure(kind)
        if failure == "drop":
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if failure == "500":
            return self._send(500, _status(500, "InternalError", "injected failure"))
        if failure == "429":
            return self._send(429, _status(429, "TooManyRequests", "injected throttling"),
                              [("Retry-After", str(st.retry_after))])
        try:
            req = json.loads(raw)
            spec = req["spec"]
        except (ValueError, KeyError, TypeError):
            return self._send(400, _status(400, "BadRequest", "bad review"))
        st.log_review(kind, spec)
        if kind == "tokenreviews":
            with st.lock:
                st.counters["tokenreviews"] += 1
            status = token_review(st.policy, spec)
            out = {"kind": "TokenReview", "apiVersion": "authentication.k8s.io/v1",
                   "metadata": {"creationTimestamp": None}, "spec": spec, "status": status}
        else:
            with st.lock:
                st.counters["sars"] += 1
            status = subject_access_review(st.policy, spec)
            out = {"kind": "SubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
                   "metadata": {"creationTimestamp": None}, "spec": spec, "status": status}
        self._send(201, out)

    def _control(self, raw):
        st = self.server.state
        try:
            obj = json.loads(raw) if raw else {}
        except ValueError:
            return self._send(400, {"error": "bad json"})
        if self.path == "/_fake/config":
            st.configure(obj)
        elif self.path == "/_fake/policy":
            st.policy = obj
        elif self.path == "/_fake/reset":
            st.release()
            st.reset()
        elif self.path == "/_fake/release":
            st.release()
        else:
            return self._send(404, {"error": "unknown control"})
        self._send(200, {"ok": True})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # not socketserver's 5: bursts of connections are tested

    def handle_error(self, request, client_address):
        # clients that give up (timeouts, cancelled calls) are part of the tests
        if os.environ.get("FAKEKUBE_VERBOSE"):
            super().handle_error(request, client_address)


class FakeKube:
    """Start with FakeKube(pki_dir, policy).start(); .port, .stop(), .state."""

    def __init__(self, pki_dir, policy, port=0, host="127.0.0.1"):
        self.pki_dir = pki_dir
        self.state = State(policy)
        self.host = host
        self.port = port
        self.httpd = None
        self.thread = None

    def start(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(f"{self.pki_dir}/server.crt", f"{self.pki_dir}/server.key")
        ctx.load_verify_locations(f"{self.pki_dir}/ca.crt")
        ctx.verify_mode = ssl.CERT_OPTIONAL  # client certificates are one way to log in
        httpd = _Server((self.host, self.port), Handler)
        httpd.open_conns = set()
        httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True,
                                       do_handshake_on_connect=False)
        httpd.state = self.state
        self.httpd = httpd
        self.port = httpd.server_address[1]
        self.thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        """Stop accepting and cut every open connection (the API server is gone)."""
        self.state.release()
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
            with self.state.lock:
                conns = list(self.httpd.open_conns)
            for c in conns:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.httpd = None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", required=True, help="PKI directory (created)")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--policy", required=True)
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    if not os.path.exists(f"{args.dir}/server.crt"):
        make_pki(args.dir)
    with open(args.policy) as f:
        policy = json.load(f)
    fk = FakeKube(args.dir, policy, port=args.port).start()
    print(f"listening {fk.port}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fk.stop()


if __name__ == "__main__":
    main()
