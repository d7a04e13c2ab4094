#!/usr/bin/env python3
"""E2E: OIDC ID tokens (people) through the tenantgate binary.

A stand-in issuer (harness/oidc_issuer.py: real TLS with a CA made here,
discovery + JWKS, RSA / EC / Ed25519 keys, rotation at run time) and tokens
minted by the test; behind tenantgate a real Prometheus with the generated
data (what a tenant may see) or the echo upstream (what reaches it). Every
key-fetch claim is checked against what the issuer counted as served, and
nothing waits on the clock: a test waits for a fetch or for an answer.
"""
import concurrent.futures
import json
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from harness import check_error, check_success, main  # noqa: E402
from harness import fake_upstream, oidc_issuer, prom, tg  # noqa: E402
from harness.proc import subdir, wait_until  # noqa: E402

AUD = "tenantgate"
# static rules: OIDC users and groups are authorized like everyone else
RULES = [("alpha", "oidc:alice@example.com", None),
         ("beta", None, ["oidc:beta-readers"]),
         ("alpha", "alice", None)]  # the static token file's alice

SECRET_QUERY = "count by (namespace) (tenant_secret_info)"


def oidc_args(iss, *more):
    return ["--oidc-issuer=" + iss.url, "--oidc-clientID=" + AUD, "--oidc-ca-file=" + iss.ca_file,
            "--oidc-username-prefix=oidc:", "--oidc-groups-prefix=oidc:",
            "--oidc-sign-alg=RS256", "--oidc-sign-alg=ES256", "--oidc-sign-alg=PS256",
            "--oidc-sign-alg=EdDSA"] + list(more)


def metric(gate, name, **labels):
    """Value of one series on tenantgate's /metrics (0 when absent)."""
    want = name + ("{" + ",".join('%s="%s"' % kv for kv in sorted(labels.items())) + "}"
                   if labels else "")
    for line in gate.metrics().splitlines():
        if line.startswith(want + " "):
            return float(line.split()[-1])
    return 0.0


class OIDCBase(unittest.TestCase):
    """One issuer, one Prometheus and one echo upstream per class; every token
    minted is remembered so that tearDown can look for it in every log."""

    @classmethod
    def setUpClass(cls):
        cls.dir = subdir(cls.__name__)
        cls.iss = oidc_issuer.OIDCIssuer(cls.dir)
        cls.prom = prom.Prometheus(exporter=False, name="prometheus-" + cls.__name__)
        cls.echo = fake_upstream.FakeUpstream()
        cls.echo.mode = "echo"
        cls.gates = []
        cls.tokens = []

    @classmethod
    def tearDownClass(cls):
        codes = {g.proc.name: g.stop() for g in cls.gates}
        cls.iss.stop()
        cls.echo.stop()
        cls.prom.stop()
        # a clean exit, which under ASan also means no leak
        bad = {n: c for n, c in codes.items() if c != 0}
        if bad:
            raise AssertionError("tenantgate exited with %r" % bad)

    def tearDown(self):
        for g in self.gates:
            log = g.proc.log()
            for t in self.tokens:
                # the whole token, and its signature alone (the part no one else knows)
                self.assertNotIn(t, log, "a token appears in %s's log" % g.proc.name)
                sig = t.rsplit(".", 1)[-1]
                if len(sig) >= 16:
                    self.assertNotIn(sig, log)

    def gate(self, upstream=None, extra=(), oidc_yaml="", name="tenantgate", iss=None,
             rules=(), wait_keys=True):
        """A tenantgate for `iss` (default the class's issuer), once it holds its keys."""
        iss = iss or self.iss
        cfg = tg.config_yaml(rules=RULES + list(rules)) + oidc_yaml
        g = tg.TenantGate(upstream or self.prom.url, config=cfg,
                          extra_args=oidc_args(iss) + list(extra), name=name)
        self.gates.append(g)
        if wait_keys:
            wait_until(lambda: metric(g, "tenantgate_oidc_signing_keys", issuer=iss.url) > 0, 20,
                       "tenantgate has the issuer's keys", proc=g.proc)
        return g

    def mint(self, **kw):
        t = self.iss.mint(**kw)
        self.tokens.append(t)
        return t

    def query(self, gate, token, ns="alpha", q=SECRET_QUERY):
        return gate.get("/api/v1/query", query={"query": q, "namespace": ns, "time": self.prom.end},
                        token=token)

    def namespaces(self, resp):
        j = check_success(self, resp)
        return sorted(s["metric"].get("namespace", "") for s in j["data"]["result"])


class Accepted(OIDCBase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.g = None

    def setUp(self):
        if Accepted.g is None:
            Accepted.g = self.gate()

    def test_rs256_sees_its_tenant_only(self):
        resp = self.query(self.g, self.mint())
        self.assertEqual(self.namespaces(resp), ["alpha"])
        # a selector naming another tenant still gets alpha's data only
        resp = self.query(self.g, self.mint(sub="u-alice-2"),
                          q='count by (namespace) (tenant_secret_info{namespace="beta"})')
        self.assertEqual(self.namespaces(resp), ["alpha"])

    def test_es256_ps256_eddsa(self):
        for kid, alg in (("ec1", None), ("rsa1", "PS256"), ("ed1", None)):
            with self.subTest(kid=kid, alg=alg):
                resp = self.query(self.g, self.mint(kid=kid, alg=alg))
                self.assertEqual(self.namespaces(resp), ["alpha"])

    def test_other_namespace_is_403(self):
        check_error(self, self.query(self.g, self.mint(), ns="beta"), 403, "forbidden",
                    "oidc:alice@example.com")

    def test_group_with_prefix_matches_a_static_group_rule(self):
        bob = dict(email="bob@example.com", sub="u-bob")
        # a list, and a single string (kube-apiserver's groups claim is either)
        for groups in (["x", "beta-readers"], "beta-readers"):
            with self.subTest(groups=groups):
                resp = self.query(self.g, self.mint(groups=groups, **bob), ns="beta")
                self.assertEqual(self.namespaces(resp), ["beta"])
        # the same group without the prefix rule's spelling, or none: 403
        check_error(self, self.query(self.g, self.mint(groups=["readers"], **bob), ns="beta"),
                    403)
        check_error(self, self.query(self.g, self.mint(groups=None, **bob), ns="beta"), 403)
        check_error(self, self.query(self.g, self.mint(groups=["beta-readers"], **bob)), 403)

    def test_static_tokens_still_work(self):
        self.assertEqual(self.namespaces(self.query(self.g, "alice-token")), ["alpha"])
        check_error(self, self.query(self.g, "alice-token", ns="beta"), 403)

    def test_a_cached_token_is_not_verified_again(self):
        tok = self.mint(exp=None, iat=None)  # exp is required
        check_error(self, self.query(self.g, tok), 401, "unauthorized", "exp")
        tok = self.mint()
        self.assertEqual(self.namespaces(self.query(self.g, tok)), ["alpha"])
        accepted = metric(self.g, "tenantgate_oidc_tokens_total", result="accepted")
        hits = metric(self.g, "tenantgate_oidc_cache_hits_total")
        for _ in range(3):
            self.assertEqual(self.namespaces(self.query(self.g, tok)), ["alpha"])
        self.assertEqual(metric(self.g, "tenantgate_oidc_tokens_total", result="accepted"), accepted)
        self.assertEqual(metric(self.g, "tenantgate_oidc_cache_hits_total"), hits + 3)


def tamper(token):
    """The payload changed (another user), the signature kept."""
    h, p, s = token.split(".")
    claims = json.loads(oidc_issuer.base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
    claims["email"] = "root@example.com"
    return h + "." + oidc_issuer.b64url(json.dumps(claims).encode()) + "." + s


class Refused(OIDCBase):
    def test_every_bad_token_is_401(self):
        g = self.gate(name="tenantgate-refused")
        now = int(oidc_issuer.time.time())
        other = oidc_issuer.OIDCIssuer(subdir("other-issuer"), started=False)
        cases = [
            ("expired", self.mint(exp=now - 3600, iat=now - 7200), "expired"),
            ("not yet valid", self.mint(nbf=now + 3600), "not valid yet"),
            ("issued in the future", self.mint(iat=now + 3600), "future"),
            ("wrong audience", self.mint(aud="someone-else"), "audience"),
            ("audience list without us", self.mint(aud=["a", "b"]), "audience"),
            ("wrong issuer", self.mint(iss=other.url), "invalid token"),
            ("alg none", self.mint(alg="none"), "algorithm"),
            ("HS256 with the RSA public key", self.mint(alg="HS256"), "algorithm"),
            ("RSA kid with alg ES256", self.mint(kid="rsa1", alg="ES256", key=self.iss.keys["ec1"],
                                                 header={"kid": "rsa1"}), "cannot verify"),
            ("tampered payload", tamper(self.mint()), "bad signature"),
            ("email not verified", self.mint(email_verified=False), "not verified"),
            ("email_verified a string", self.mint(email_verified="true"), "boolean"),
            ("no username claim", self.mint(email=None), "username claim"),
            ("garbage", "garbage", "invalid token"),
            ("three garbage parts", "a.b.c", "invalid token"),
            ("a JWT of no issuer of ours", other.mint(), "invalid token"),
        ]
        self.tokens.append(cases[-1][1])
        before = self.iss.served("jwks")
        for what, tok, reason in cases:
            with self.subTest(what):
                r = self.query(g, tok)
                check_error(self, r, 401, "unauthorized", reason)
                self.assertEqual(r.header("WWW-Authenticate"), 'Bearer realm="tenantgate"')
        # none of them made tenantgate fetch keys again
        self.assertEqual(self.iss.served("jwks"), before)
        # refusals are cached like a failed TokenReview: a replay verifies nothing
        refused = metric(g, "tenantgate_oidc_tokens_total", result="refused")
        for what, tok, reason in cases:
            check_error(self, self.query(g, tok), 401)
        self.assertEqual(metric(g, "tenantgate_oidc_tokens_total", result="refused"), refused)
        # and each refusal was logged with its reason (never the token: tearDown)
        log = g.proc.log()
        for reason in ("token expired", "wrong audience", "email not verified",
                       'signature algorithm "none" not accepted', "bad signature"):
            self.assertIn(reason, log)


class Keys(OIDCBase):
    """Key rotation, unknown kids, an issuer that is down: each with its own
    tenantgate, since the fetch limits are per process."""

    def test_key_published_later_is_accepted_without_restart(self):
        g = self.gate(name="tenantgate-rotation", oidc_yaml="oidc:\n  jwksRefetchInterval: 1s\n")
        self.assertEqual(self.namespaces(self.query(g, self.mint())), ["alpha"])
        served = self.iss.served("jwks")
        # rsa2 is published only now: the first token naming it makes one fetch and passes
        self.iss.publish(["rsa2", "ec1", "ed1"])
        self.assertEqual(self.namespaces(self.query(g, self.mint(kid="rsa2"))), ["alpha"])
        self.assertEqual(self.iss.served("jwks"), served + 1)
        # rsa1 is gone from the set tenantgate holds now: a new rsa1 token is refused
        check_error(self, self.query(g, self.mint(kid="rsa1", sub="u-x")), 401, None,
                    "no signing key")
        # a key that appears while its token is being refused: accepted once the
        # issuer is asked again (a refetch is allowed once a second here)
        early = self.mint(kid="rsa1", email="alice@example.com", sub="u-early")
        self.iss.publish(["rsa2", "ec1", "ed1"])
        check_error(self, self.query(g, early), 401)
        self.iss.publish(["rsa1", "rsa2", "ec1", "ed1"])
        wait_until(lambda: self.query(g, early).status == 200, 20, "rsa1 accepted again")
        self.assertEqual(metric(g, "tenantgate_oidc_signing_keys", issuer=self.iss.url), 4)

    def test_unknown_kids_make_a_bounded_number_of_fetches(self):
        g = self.gate(name="tenantgate-flood", oidc_yaml="oidc:\n  jwksRefetchInterval: 1h\n")
        self.assertEqual(self.namespaces(self.query(g, self.mint())), ["alpha"])
        served = self.iss.served("jwks")
        toks = [self.mint(header={"kid": "made-up-%d" % i}) for i in range(50)]
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            statuses = list(ex.map(lambda t: self.query(g, t).status, toks))
        self.assertEqual(statuses, [401] * 50)
        self.assertEqual(self.iss.served("jwks") - served, 1)  # the first kid asked, once
        self.assertEqual(metric(g, "tenantgate_oidc_tokens_total", result="unavailable"), 50)
        for t in toks[:10]:  # replays: from the cache
            self.assertEqual(self.query(g, t).status, 401)
        self.assertEqual(self.iss.served("jwks") - served, 1)
        self.assertEqual(metric(g, "tenantgate_oidc_tokens_total", result="unavailable"), 50)
        self.assertEqual(self.namespaces(self.query(g, self.mint(kid="ec1"))), ["alpha"])

    def test_issuer_down_at_start(self):
        down = oidc_issuer.OIDCIssuer(subdir("down-issuer"), started=False)
        g = self.gate(name="tenantgate-down", iss=down, wait_keys=False,
                      oidc_yaml="oidc:\n  jwksRefetchInterval: 1s\n")
        self.assertEqual(g.internal("/readyz").status, 200)
        tok = down.mint()
        self.tokens.append(tok)
        check_error(self, self.query(g, tok), 401, "unauthorized", "not available")
        self.assertGreaterEqual(
            metric(g, "tenantgate_oidc_jwks_fetches_total", issuer=down.url, result="error"), 1)
        self.assertEqual(metric(g, "tenantgate_oidc_signing_keys", issuer=down.url), 0)
        self.assertIn("its tokens are refused until then", g.proc.log())
        down.start()
        wait_until(lambda: self.query(g, tok).status == 200, 30, "keys once the issuer is up")
        self.assertEqual(self.namespaces(self.query(g, tok)), ["alpha"])
        self.assertGreaterEqual(
            metric(g, "tenantgate_oidc_jwks_fetches_total", issuer=down.url, result="ok"), 1)
        down.stop()


class Issuers(OIDCBase):
    def test_second_issuer_from_the_config_file(self):
        other = oidc_issuer.OIDCIssuer(subdir("second-issuer"), path="/other")
        try:
            g = self.gate(name="tenantgate-issuers", rules=[("gamma", other.url + "#u-carol", None)],
                          oidc_yaml=(
                "oidc:\n  issuers:\n  - issuer: %s\n    clientID: kubectl\n"
                "    usernameClaim: sub\n    caFile: %s\n    signAlgs: [ES256]\n"
                % (other.url, other.ca_file)))
            tok = other.mint(kid="ec1", aud="kubectl", sub="u-carol")
            self.tokens.append(tok)
            # claim "sub", no prefix given: kube-apiserver's "<issuer>#" prefix
            self.assertEqual(self.namespaces(self.query(g, tok, ns="gamma")), ["gamma"])
            check_error(self, self.query(g, tok, ns="alpha"), 403, None, other.url + "#u-carol")
            # each issuer its own rules: RS256 is not in the second's list, nor our audience
            bad = [other.mint(kid="rsa1", aud="kubectl", sub="u-carol"),
                   other.mint(kid="ec1", aud=AUD, sub="u-carol")]
            self.tokens.extend(bad)
            for t in bad:
                check_error(self, self.query(g, t, ns="gamma"), 401)
            # the first issuer still works
            self.assertEqual(self.namespaces(self.query(g, self.mint())), ["alpha"])
        finally:
            other.stop()

    def test_jwks_on_another_host(self):
        """Google and Azure serve keys on another host than the issuer: its own client."""
        split = oidc_issuer.OIDCIssuer(subdir("split-issuer"))
        split.jwks_host = "localhost"
        g = self.gate(name="tenantgate-split", iss=split)
        tok = split.mint(kid="ec1")
        self.tokens.append(tok)
        self.assertEqual(self.namespaces(self.query(g, tok)), ["alpha"])
        self.assertEqual(split.served("jwks"), 1)
        split.stop()

    def test_discovery_naming_another_issuer_gives_no_keys(self):
        liar = oidc_issuer.OIDCIssuer(subdir("liar-issuer"))
        liar.discovery_issuer = "https://evil.example"
        g = self.gate(name="tenantgate-liar", iss=liar, wait_keys=False)
        tok = liar.mint()
        self.tokens.append(tok)
        check_error(self, self.query(g, tok), 401, None, "names the issuer")
        self.assertEqual(liar.served("jwks"), 0)
        liar.stop()


class IdentityHeaders(OIDCBase):
    def seen(self, gate, token, headers):
        resp = gate.get("/api/v1/query", query={"query": "up", "namespace": "alpha"},
                        token=token, headers=headers)
        j = check_success(self, resp)
        return {k.lower(): v for k, v in j["data"]["headers"]}

    def test_headers_from_the_identity_and_never_from_the_client(self):
        forged = {"X-Remote-User": "admin", "X-Remote-Groups": "system:masters",
                  "X-Forwarded-User": "admin"}
        g = self.gate(self.echo.url, name="tenantgate-headers",
                      extra=["--auth-header-fields-enabled"])
        h = self.seen(g, self.mint(groups=["a", "b"]), forged)
        self.assertEqual(h["x-remote-user"], "oidc:alice@example.com")
        self.assertEqual(h["x-remote-groups"], "oidc:a|oidc:b|system:authenticated")
        self.assertEqual(h["x-forwarded-user"], "admin")  # not an identity header here
        h = self.seen(g, "alice-token", forged)  # whatever the authenticator
        self.assertEqual(h["x-remote-user"], "alice")
        self.assertEqual(h["x-remote-groups"], "devs|system:authenticated")

        g2 = self.gate(self.echo.url, name="tenantgate-headers-custom", extra=[
            "--auth-header-fields-enabled=true", "--auth-header-user-field-name=X-Forwarded-User",
            "--auth-header-groups-field-name=X-Forwarded-Groups",
            "--auth-header-groups-field-separator=,"])
        h = self.seen(g2, self.mint(groups=["a", "b"]), forged)
        self.assertEqual(h["x-forwarded-user"], "oidc:alice@example.com")
        self.assertEqual(h["x-forwarded-groups"], "oidc:a,oidc:b,system:authenticated")
        self.assertNotIn("x-remote-user", h)

        g3 = self.gate(self.echo.url, name="tenantgate-headers-off")
        h = self.seen(g3, self.mint(), forged)
        self.assertNotIn("x-remote-user", h)
        self.assertNotIn("x-remote-groups", h)


if __name__ == "__main__":
    main()
