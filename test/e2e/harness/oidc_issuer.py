"""A stand-in OIDC issuer: discovery and JWKS over real HTTPS, in a thread.

Python standard library plus the `cryptography` module (Debian's
python3-cryptography). A CA and a server certificate for 127.0.0.1 are made
at test time (`ca_file` is what --oidc-ca-file gets). Keys: RSA and EC P-256
(and Ed25519) with kids; `publish(...)` changes the JWKS at run time (key
rotation), and `mint(...)` signs tokens with any key, published or not, in
any spelling an attacker would try (alg none, HS256 with the RSA public key,
a key of the wrong type).

Counters of what was served (`served("jwks")`, `served("discovery")`) and
`wait_served(kind, n)` let tests wait for a fetch instead of sleeping.

    iss = OIDCIssuer(dirpath)          # serves https://127.0.0.1:PORT/idp
    tok = iss.mint({"email": "alice@example.com", "aud": "tenantgate"})
    iss.publish(["rsa1", "ec1", "rsa2"])
"""
import base64
import datetime
import hashlib
import hmac
import http.server
import json
import os
import ssl
import threading
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from .proc import free_port


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _int_bytes(n, length=None):
    length = length or (n.bit_length() + 7) // 8
    return n.to_bytes(length, "big")


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_pki(dirpath):
    """A CA and a server certificate for 127.0.0.1 / localhost; returns the CA path."""
    now = datetime.datetime.utcnow()
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name("test-oidc-ca")).issuer_name(_name("test-oidc-ca"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    import ipaddress
    cert = (x509.CertificateBuilder().subject_name(_name("test-oidc")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
                critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = {n: os.path.join(dirpath, n) for n in ("oidc-ca.crt", "oidc.crt", "oidc.key")}
    with open(paths["oidc-ca.crt"], "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))
    with open(paths["oidc.crt"], "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(paths["oidc.key"], "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return paths


class Key:
    """A signing key with its kid and JWK."""

    def __init__(self, kid, kind):
        self.kid = kid
        self.kind = kind
        if kind == "rsa":
            self.priv = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        elif kind == "ec":
            self.priv = ec.generate_private_key(ec.SECP256R1())
        elif kind == "ed25519":
            self.priv = ed25519.Ed25519PrivateKey.generate()
        else:
            raise ValueError(kind)
        self.pub = self.priv.public_key()

    def jwk(self, alg=None):
        if self.kind == "rsa":
            n = self.pub.public_numbers()
            j = {"kty": "RSA", "n": b64url(_int_bytes(n.n)), "e": b64url(_int_bytes(n.e))}
        elif self.kind == "ec":
            n = self.pub.public_numbers()
            j = {"kty": "EC", "crv": "P-256", "x": b64url(_int_bytes(n.x, 32)),
                 "y": b64url(_int_bytes(n.y, 32))}
        else:
            raw = self.pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            j = {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw)}
        j.update({"kid": self.kid, "use": "sig"})
        if alg:
            j["alg"] = alg
        return j

    def public_pem(self):
        return self.pub.public_bytes(serialization.Encoding.PEM,
                                     serialization.PublicFormat.SubjectPublicKeyInfo)

    def sign(self, alg, data):
        if alg == "RS256":
            return self.priv.sign(data, padding.PKCS1v15(), hashes.SHA256())
        if alg == "PS256":
            return self.priv.sign(data, padding.PSS(padding.MGF1(hashes.SHA256()), 32),
                                  hashes.SHA256())
        if alg == "ES256":
            r, s = decode_dss_signature(self.priv.sign(data, ec.ECDSA(hashes.SHA256())))
            return _int_bytes(r, 32) + _int_bytes(s, 32)
        if alg == "EdDSA":
            return self.priv.sign(data)
        raise ValueError(alg)


DEFAULT_ALG = {"rsa": "RS256", "ec": "ES256", "ed25519": "EdDSA"}


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *a):
        pass

    def do_GET(self):
        iss = self.server.owner
        path = self.path.split("?")[0]
        if path == iss.path + "/.well-known/openid-configuration":
            kind, body = "discovery", iss.discovery()
        elif path == iss.path + "/keys":
            kind, body = "jwks", {"keys": [iss.keys[k].jwk() for k in iss.published]}
        else:
            kind, body = "other", None
        status = iss.fail.get(kind, 200) if body is not None else 404
        data = json.dumps(body if status == 200 else {"error": "nope"}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        iss.count(kind)


class OIDCIssuer:
    """url: https://127.0.0.1:PORT/idp. Keys rsa1, rsa2 (RSA), ec1 (P-256), ed1
    (Ed25519); `published` starts as rsa1 + ec1 + ed1. Not listening until
    start() when started=False (an issuer that is down)."""

    def __init__(self, dirpath, started=True, path="/idp"):
        self.pki = make_pki(dirpath)
        self.ca_file = self.pki["oidc-ca.crt"]
        self.port = free_port()
        self.path = path
        self.url = "https://127.0.0.1:%d%s" % (self.port, path)
        self.keys = {k: Key(k, kind) for k, kind in
                     (("rsa1", "rsa"), ("rsa2", "rsa"), ("ec1", "ec"), ("ed1", "ed25519"))}
        self.published = ["rsa1", "ec1", "ed1"]
        self.fail = {}  # kind -> HTTP status to answer instead
        self.discovery_issuer = None  # what discovery claims (default: url)
        self.jwks_host = None  # serve jwks_uri under another host name (e.g. "localhost")
        self._counts = {}
        self._cond = threading.Condition()
        self.httpd = None
        if started:
            self.start()

    def start(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.pki["oidc.crt"], self.pki["oidc.key"])
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.httpd.owner = self
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    def discovery(self):
        jwks = self.url + "/keys"
        if self.jwks_host:
            jwks = jwks.replace("127.0.0.1", self.jwks_host, 1)
        return {"issuer": self.discovery_issuer or self.url, "jwks_uri": jwks,
                "id_token_signing_alg_values_supported": ["RS256", "ES256", "EdDSA"],
                "response_types_supported": ["id_token"], "subject_types_supported": ["public"]}

    def publish(self, kids):
        self.published = list(kids)

    # ---- counting what was served ----

    def count(self, kind):
        with self._cond:
            self._counts[kind] = self._counts.get(kind, 0) + 1
            self._cond.notify_all()

    def served(self, kind):
        with self._cond:
            return self._counts.get(kind, 0)

    def wait_served(self, kind, n, timeout=20):
        """Until `kind` was served at least n times in all."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._counts.get(kind, 0) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("issuer served %s %d times, want %d"
                                       % (kind, self._counts.get(kind, 0), n))
                self._cond.wait(left)

    # ---- tokens ----

    def claims(self, **over):
        now = int(time.time())
        c = {"iss": self.url, "aud": "tenantgate", "sub": "u-alice", "email": "alice@example.com",
             "email_verified": True, "iat": now, "exp": now + 600, "groups": ["staff"]}
        c.update(over)
        return {k: v for k, v in c.items() if v is not None}

    def mint(self, claims=None, kid="rsa1", alg=None, header=None, key=None, **over):
        """A signed compact JWS. claims: dict (default self.claims(**over));
        kid: which key signs (and the kid header; header={"kid": None} drops it);
        alg: the header's alg (default the key's); key: sign with this Key."""
        k = key or self.keys[kid]
        alg = alg or DEFAULT_ALG[k.kind]
        h = {"alg": alg, "typ": "JWT", "kid": k.kid}
        h.update(header or {})
        h = {a: b for a, b in h.items() if b is not None}
        body = claims if claims is not None else self.claims(**over)
        signing_input = (b64url(json.dumps(h).encode()) + "." +
                         b64url(json.dumps(body).encode())).encode()
        if alg == "none":
            sig = b""
        elif alg == "HS256":  # the key-confusion attack: the RSA public key as HMAC secret
            sig = hmac.new(k.public_pem(), signing_input, hashlib.sha256).digest()
        else:
            sig = k.sign(alg, signing_input)
        return signing_input.decode() + "." + b64url(sig)
