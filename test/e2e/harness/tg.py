"""Starting tenantgate and talking to it.

`TenantGate(upstream_url, ...)` writes a static token file and a
kube-rbac-proxy style config file, starts $TG_BIN on free loopback ports and
waits until /healthz on the internal listener answers. `request()` sends
exactly the path it is given (http.client, no normalisation)."""
import base64
import http.client
import json
import os
import ssl
import subprocess
import urllib.parse

from .proc import Proc, free_port, subdir, wait_until

BIN = os.environ.get("TG_BIN") or os.path.join(
    os.environ.get("TG_BUILD_DIR", os.path.join(os.path.dirname(__file__), "../../../build")),
    "tenantgate")

# TG_WRAPPER: a command prefixed to tenantgate's (e.g. "valgrind --leak-check=full"),
# split on spaces; readiness then gets more time.
WRAPPER = os.environ.get("TG_WRAPPER", "").split()

# token -> (user, uid, groups); tenants each may read (see CONFIG below)
TOKENS = {
    "alice-token": ("alice", "1001", ["devs"]),                       # alpha
    "bob-token": ("bob", "1002", ["devs"]),                           # beta
    "carol-token": ("carol", "1003", ["devs", "ops"]),                # alpha, beta
    "dave-token": ("dave", "1004", []),                               # team.a
    "erin-token": ("erin", "1005", ["gamma-team"]),                   # gamma (by group)
    "mallory-token": ("mallory", "1006", ["other"]),                  # nothing
    "zed-ops-token": ("zed", "1007", ["ops"]),                        # teamxa (name + group)
    "zed-plain-token": ("zed", "1007", ["devs"]),                     # nothing (wrong group)
    "grafana-sa-token": ("system:serviceaccount:alpha:grafana", "1008",
                         ["system:serviceaccounts", "system:serviceaccounts:alpha"]),  # alpha
    "beta-sa-token": ("system:serviceaccount:beta:reader", "1009",
                      ["system:serviceaccounts", "system:serviceaccounts:beta"]),    # beta
    "nosa-token": ("system:serviceaccount:gamma:nobody", "1010", []),  # nothing
    "tess-token": ("tess", "1011", ["devs"]),                         # team.a, alpha
}
ALLOWED = {
    "alice-token": {"alpha"}, "bob-token": {"beta"}, "carol-token": {"alpha", "beta"},
    "dave-token": {"team.a"}, "erin-token": {"gamma"}, "mallory-token": set(),
    "zed-ops-token": {"teamxa"}, "zed-plain-token": set(), "grafana-sa-token": {"alpha"},
    "beta-sa-token": {"beta"}, "nosa-token": set(), "tess-token": {"team.a", "alpha"},
}


def tokens_csv(tokens=None):
    lines = []
    for tok, (user, uid, groups) in (tokens or TOKENS).items():
        lines.append('%s,%s,%s,"%s"' % (tok, user, uid, ",".join(groups)))
    return "\n".join(lines) + "\n"


def _rule(ns, name=None, groups=None):
    u = []
    if name is not None:
        u.append("name: %s" % json.dumps(name))
    if groups is not None:
        u.append("groups: %s" % json.dumps(groups))
    return ("  - user: {%s}\n    verb: get\n    namespace: %s\n    resource: services\n"
            "    subresource: proxy\n    resourceRequest: true\n" % (", ".join(u), json.dumps(ns)))


def config_yaml(rules=None, param="namespace"):
    """kube-rbac-proxy config: tenant from ?namespace=, one static rule per grant."""
    if rules is None:
        rules = [("alpha", "alice", None), ("beta", "bob", None), ("alpha", "carol", None),
                 ("beta", "carol", None), ("team.a", "dave", None), ("gamma", None, ["gamma-team"]),
                 ("teamxa", "zed", ["ops"]),
                 ("alpha", "system:serviceaccount:alpha:grafana", None),
                 ("beta", "system:serviceaccount:beta:reader", None),
                 ("team.a", "tess", None), ("alpha", "tess", None)]
    out = ("authorization:\n"
           "  rewrites:\n    byQueryParameter:\n      name: %s\n"
           "  resourceAttributes:\n    apiVersion: v1\n    resource: services\n"
           "    subresource: proxy\n    namespace: \"{{ .Value }}\"\n"
           "  static:\n" % param)
    for ns, name, groups in rules:
        out += _rule(ns, name, groups)
    return out


class Resp:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers  # list of (name, value)
        self.body = body

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError as e:
            raise AssertionError("response is not JSON (%s): status %d body %r"
                                 % (e, self.status, self.body[:500]))

    def __repr__(self):
        return "<Resp %d %r>" % (self.status, self.body[:300])


def encode_query(query):
    if query is None:
        return ""
    if isinstance(query, str):
        return query
    if isinstance(query, dict):
        query = list(query.items())
    return urllib.parse.urlencode(query, doseq=True)


class TenantGate:
    """A running tenantgate.

    upstream: URL; tokens: dict like TOKENS (or None for no --token-auth-file);
    config: YAML text (default config_yaml()) or None for no --config-file;
    tls: also start a secure listener (cert/key paths or None = self-signed);
    flag_style: "--" or "-"; sep: "=" or " " (how flags are spelled)."""

    def __init__(self, upstream, tokens=TOKENS, config="default", extra_args=(), tls=False,
                 cert=None, key=None, client_ca=None, flag_style="--", sep="=", insecure=True,
                 name="tenantgate", ready_timeout=15, env=None):
        self.dir = subdir(name)
        self.port = free_port() if insecure else None
        self.internal_port = free_port()
        self.tls_port = free_port() if tls else None
        self.host = "127.0.0.1"
        self.upstream = upstream
        self.token_file = os.path.join(self.dir, "tokens.csv")
        self.config_file = os.path.join(self.dir, "config.yaml")
        args = []

        def flag(name, value=None):
            if value is None:
                args.append(flag_style + name)
            elif sep == "=":
                args.append("%s%s=%s" % (flag_style, name, value))
            else:
                args.extend([flag_style + name, str(value)])

        if insecure:
            flag("insecure-listen-address", "127.0.0.1:%d" % self.port)
        flag("internal-listen-address", "127.0.0.1:%d" % self.internal_port)
        flag("upstream", upstream)
        if tokens is not None:
            with open(self.token_file, "w") as f:
                f.write(tokens_csv(tokens))
            flag("token-auth-file", self.token_file)
        if config == "default":
            config = config_yaml()
        if config is not None:
            with open(self.config_file, "w") as f:
                f.write(config)
            flag("config-file", self.config_file)
        if tls:
            flag("secure-listen-address", "127.0.0.1:%d" % self.tls_port)
            if cert:
                flag("tls-cert-file", cert)
                flag("tls-private-key-file", key)
        if client_ca:
            flag("client-ca-file", client_ca)
        self.argv = [BIN] + args + list(extra_args)
        if WRAPPER:
            ready_timeout *= 6
        self.proc = Proc(name, WRAPPER + self.argv, env=env)
        if WRAPPER:
            self.proc.min_stop_timeout = 60
        self.pid = self.proc.pid
        wait_until(self.healthy, ready_timeout, "tenantgate /healthz", proc=self.proc)

    @property
    def url(self):
        return "http://%s:%d" % (self.host, self.port)

    def internal(self, path):
        c = http.client.HTTPConnection(self.host, self.internal_port, timeout=5)
        try:
            c.request("GET", path)
            r = c.getresponse()
            return Resp(r.status, r.reason, r.getheaders(), r.read())
        finally:
            c.close()

    def healthy(self):
        return self.internal("/healthz").status == 200

    def conn(self, timeout=30, tls=False, context=None):
        if tls:
            ctx = context or ssl._create_unverified_context()
            return http.client.HTTPSConnection(self.host, self.tls_port, timeout=timeout,
                                               context=ctx)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(self, method, path, query=None, token=None, basic=None, headers=None,
                body=None, form=None, timeout=30, tls=False, context=None):
        """Send one request. query: str or pairs/dict appended as ?...; form: pairs/dict
        sent urlencoded (POST); token: Bearer; basic: (user, password)."""
        h = {}
        if token is not None:
            h["Authorization"] = "Bearer " + token
        if basic is not None:
            h["Authorization"] = "Basic " + base64.b64encode(
                ("%s:%s" % basic).encode()).decode()
        if form is not None:
            body = encode_query(form).encode()
            h["Content-Type"] = "application/x-www-form-urlencoded"
        if headers:
            h.update(headers)
        q = encode_query(query)
        target = path + ("?" + q if q else "")
        c = self.conn(timeout=timeout, tls=tls, context=context)
        try:
            c.request(method, target, body=body, headers=h)
            r = c.getresponse()
            return Resp(r.status, r.reason, r.getheaders(), r.read())
        finally:
            c.close()

    def get(self, path, query=None, token=None, **kw):
        return self.request("GET", path, query=query, token=token, **kw)

    def post(self, path, form=None, query=None, token=None, **kw):
        return self.request("POST", path, query=query, form=form, token=token, **kw)

    def metrics(self):
        return self.internal("/metrics").body.decode("utf-8", "replace")

    def stop(self, timeout=10):
        return self.proc.stop(timeout)

    def stop_clean(self, timeout=10):
        """Stop it and require exit code 0: under ASan a leak report (or any
        sanitizer report) at exit makes it non-zero, and that must fail a test."""
        rc = self.stop(timeout)
        if rc != 0:
            raise AssertionError("%s exited with %r (sanitizer report?); log tail:\n%s"
                                 % (self.proc.name, rc, self.proc.log()[-3000:]))


def sanitized():
    """True when $TG_BIN was built with ASan (its quarantine and shadow memory make
    RSS measurements meaningless at the MiB scale) or runs under TG_WRAPPER
    (valgrind: the same)."""
    if WRAPPER:
        return True
    try:
        with open(BIN, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


def run_cli(*args, input=None, timeout=20):
    """Run `tenantgate <args>`; returns CompletedProcess (text)."""
    return subprocess.run([BIN] + [str(a) for a in args], capture_output=True, text=True,
                          input=input, timeout=timeout)


def make_cert(dirpath, name="server", cn="127.0.0.1", days=1, ca=None,
              san="IP:127.0.0.1,DNS:localhost"):
    """A self-signed (or CA-signed when ca=(cert, key)) cert for 127.0.0.1 via openssl
    (san: its subjectAltName). Returns (cert_path, key_path)."""
    cert = os.path.join(dirpath, name + ".crt")
    key = os.path.join(dirpath, name + ".key")
    ext = os.path.join(dirpath, name + ".ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=%s\n" % san)
    if ca is None:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                        "-days", str(days), "-subj", "/CN=" + cn,
                        "-addext", "subjectAltName=" + san],
                       check=True, capture_output=True)
    else:
        csr = os.path.join(dirpath, name + ".csr")
        subprocess.run(["openssl", "req", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", csr,
                        "-subj", "/CN=" + cn], check=True, capture_output=True)
        subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1],
                        "-CAcreateserial", "-out", cert, "-days", str(days), "-extfile", ext],
                       check=True, capture_output=True)
    return cert, key


def peer_cert_der(host, port, timeout=5):
    """The DER certificate a TLS server presents (no verification)."""
    import socket
    ctx = ssl._create_unverified_context()
    with socket.create_connection((host, port), timeout=timeout) as s:
        with ctx.wrap_socket(s, server_hostname=host) as t:
            return t.getpeercert(binary_form=True)


def cert_der(path):
    with open(path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())
