#!/usr/bin/env python3
"""tenantgate's own upstream client (lib/upstream/) end to end, against the
fake upstream: the upstream closing an idle pooled connection (no 502), the
one retry of a request a stale connection lost (and none once the upstream
started answering), responses framed two ways refused with 502, a second
response smuggled behind the first never used, and TLS toward the upstream
(verification, client certificate, keep-alive, streaming).

Run it under the ASan build too: TG_BIN=build-asan/tenantgate."""
import http.client
import json
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check_error, main  # noqa: E402
from harness import fake_upstream, tg  # noqa: E402
from harness.proc import subdir, wait_until  # noqa: E402

ALICE = "alice-token"
A = {"namespace": "alpha"}
SLOW = 4 if tg.WRAPPER else 1
OK_BODY = json.dumps(fake_upstream.FakeUpstream.DEFAULT_BODY).encode()


def q(t, **kw):
    return t.get("/api/v1/query", dict(A, query="up"), token=ALICE, timeout=30 * SLOW, **kw)


def upstream_errors(t, kind):
    m = re.search(r'^tenantgate_upstream_errors_total\{kind="%s"\} (\d+)$' % kind, t.metrics(),
                  re.M)
    return int(m.group(1)) if m else 0


class Pool(unittest.TestCase):
    """A fresh upstream and tenantgate per test: connection numbers start at 1."""

    def setUp(self):
        self.up = fake_upstream.FakeUpstream()
        self.tg = tg.TenantGate(self.up.url, name="tg-pool")

    def tearDown(self):
        rc = self.tg.stop(timeout=30 * SLOW)
        self.up.stop()
        self.assertEqual(rc, 0, "tenantgate exit code")

    def test_keep_alive_one_connection(self):
        for _ in range(5):
            self.assertEqual(q(self.tg).status, 200)
        self.assertEqual(self.up.conns(), [1] * 5)

    def test_upstream_closes_idle_connection(self):
        # the upstream drops each connection after its answer (as a server with
        # an idle timeout does): the next request must not fail, whether
        # tenantgate has seen the close yet or not
        self.up.mode = "idle_close"
        for i in range(1, 6):
            r = q(self.tg)
            self.assertEqual((r.status, r.body), (200, OK_BODY), r)
            wait_until(lambda: self.up.closed >= i, 5 * SLOW, "upstream closed connection %d" % i)
        self.assertEqual(self.up.conns(), [1, 2, 3, 4, 5])
        self.assertEqual(upstream_errors(self.tg, "reset"), 0)

    def test_stale_connection_retried_once(self):
        # the second request on a connection is read and the connection closed
        # without an answer: tenantgate sends it again on a new connection
        self.up.mode = "close_on_reuse"
        self.assertEqual(q(self.tg).status, 200)
        r = q(self.tg)
        self.assertEqual((r.status, r.body), (200, OK_BODY), r)
        recs = self.up.requests
        self.assertEqual([(x["conn"], x["nth"]) for x in recs], [(1, 1), (1, 2), (2, 1)])
        self.assertEqual(recs[1]["target"], recs[2]["target"])

    def test_stale_post_retried_with_its_body(self):
        # the POSTs tenantgate sends are form-encoded reads: retried like GETs
        self.up.mode = "close_on_reuse"
        form = {"query": "up", "namespace": "alpha"}
        self.assertEqual(self.tg.post("/api/v1/query", form=form, token=ALICE).status, 200)
        r = self.tg.post("/api/v1/query", form=form, token=ALICE)
        self.assertEqual(r.status, 200, r)
        recs = self.up.requests
        self.assertEqual([x["conn"] for x in recs], [1, 1, 2])
        self.assertEqual([x["method"] for x in recs], ["POST"] * 3)
        self.assertEqual(recs[1]["body"], recs[2]["body"])
        self.assertEqual(dict(recs[2]["form"])["query"], 'up{namespace="alpha"}')

    def test_no_retry_once_the_answer_started(self):
        # a byte of the answer came back: the upstream took the request
        self.up.mode = "head_on_reuse"
        self.assertEqual(q(self.tg).status, 200)
        check_error(self, q(self.tg), 502, "unavailable")
        self.assertEqual(self.up.count(), 2)
        self.assertEqual(upstream_errors(self.tg, "protocol"), 1)

    def test_no_retry_on_a_new_connection(self):
        # a fresh connection that fails says the upstream is failing
        self.up.mode = "close"
        check_error(self, q(self.tg), 502)
        self.assertEqual(self.up.count(), 1)
        self.up.mode = "json"
        self.assertEqual(q(self.tg).status, 200)

    def test_smuggled_second_response_never_used(self):
        # an answer with a second one glued behind it (the connection stays
        # open): that connection must not serve the next request
        self.up.mode = "raw"
        self.up.raw_keep = True
        self.up.raw = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d"
                       b"\r\n\r\n%s" % (len(OK_BODY), OK_BODY) +
                       b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nSMUGGLED")
        r = q(self.tg)
        self.assertEqual((r.status, r.body), (200, OK_BODY), r)
        for _ in range(3):
            r = q(self.tg)
            self.assertEqual((r.status, r.body), (200, OK_BODY), r)
        self.assertEqual(self.up.conns(), [1, 2, 2, 2])


H200 = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
CHUNKS = b"5\r\nhello\r\n0\r\n\r\n"
# responses framed two ways (or not HTTP/1.1 at all): 502 before a byte reaches the client
BAD_HEADS = {
    "cl_then_te": H200 + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n" + CHUNKS,
    "te_then_cl": H200 + b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n" + CHUNKS,
    "two_lengths": H200 + b"Content-Length: 5\r\nContent-Length: 7\r\n\r\nhello",
    "two_equal_lengths": H200 + b"Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
    "length_list": H200 + b"Content-Length: 5, 5\r\n\r\nhello",
    "negative_length": H200 + b"Content-Length: -1\r\n\r\nhello",
    "plus_length": H200 + b"Content-Length: +5\r\n\r\nhello",
    "te_gzip_chunked": H200 + b"Transfer-Encoding: gzip, chunked\r\n\r\n" + CHUNKS,
    "te_identity": H200 + b"Transfer-Encoding: identity\r\n\r\nhello",
    "two_te": H200 + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n" + CHUNKS,
    "te_http10": b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + CHUNKS,
    "obs_fold": H200 + b"X-A: a\r\n b\r\nContent-Length: 5\r\n\r\nhello",
    "obs_fold_te": H200 + b"Transfer-Encoding:\r\n chunked\r\n\r\n" + CHUNKS,
    "bare_lf": b"HTTP/1.1 200 OK\nContent-Length: 5\n\nhello",
    "bare_cr": H200 + b"X: a\rTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\nhello",
    "nul_in_value": H200 + b"X: a\0b\r\nContent-Length: 5\r\n\r\nhello",
    "space_before_colon": H200 + b"Content-Length : 5\r\n\r\nhello",
    "oversized_head": H200 + b"X-Big: " + b"a" * (70 * 1024) + b"\r\nContent-Length: 5\r\n\r\nhello",
    "http2_status": b"HTTP/2 200\r\n\r\n",
    "http09": b'{"status":"success"}',
    "switching_protocols": b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n",
    "status_600": b"HTTP/1.1 600 X\r\nContent-Length: 0\r\n\r\n",
    "no_content_with_body": b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello",
}
# bad framing inside the body: the head is on its way already; never a complete 200
BAD_BODIES = {
    "chunk_size_not_hex": H200 + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
    "chunk_too_long": H200 + b"Transfer-Encoding: chunked\r\n\r\n2\r\nhello\r\n0\r\n\r\n",
    "chunk_bare_lf": H200 + b"Transfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n",
    "trailer_fold": H200 + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX: a\r\n b\r\n\r\n",
    "short_length": H200 + b"Content-Length: 100\r\n\r\nhello",
}


class BadResponses(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.up = fake_upstream.FakeUpstream()
        cls.tg = tg.TenantGate(cls.up.url, name="tg-bad-responses")

    @classmethod
    def tearDownClass(cls):
        rc = cls.tg.stop(timeout=30 * SLOW)
        cls.up.stop()
        if rc != 0:
            raise AssertionError("tenantgate exited with %s" % rc)

    def setUp(self):
        self.up.reset_state()

    def serves(self):
        self.up.reset_state()
        self.assertEqual(q(self.tg).status, 200)

    def test_response_smuggling_shapes_502(self):
        for name, raw in BAD_HEADS.items():
            with self.subTest(name):
                self.up.reset_state()
                self.up.mode = "raw"
                self.up.raw = raw
                before = upstream_errors(self.tg, "protocol")
                for path in ("/api/v1/query", "/api/v1/rules"):
                    r = self.tg.get(path, dict(A, query="up"), token=ALICE, timeout=30 * SLOW)
                    check_error(self, r, 502, "unavailable")
                self.assertEqual(self.up.count(), 2, "retried an answered request")
                self.assertEqual(upstream_errors(self.tg, "protocol") - before, 2, name)
        self.serves()

    def test_status_passed_with_a_reason_phrase_clients_know(self):
        # Prometheus answers 422 (execution) and 429; libevent's own table says "Client Error"
        for status, reason in ((422, "Unprocessable Entity"), (429, "Too Many Requests"),
                               (503, "Service Unavailable")):
            with self.subTest(status):
                self.up.reset_state()
                self.up.mode = "raw"
                body = b'{"status":"error","errorType":"execution","error":"x"}'
                self.up.raw = (b"HTTP/1.1 %d Whatever\r\nContent-Type: application/json\r\n"
                               b"Content-Length: %d\r\n\r\n" % (status, len(body)) + body)
                r = q(self.tg)
                self.assertEqual((r.status, r.reason, r.body), (status, reason, body))
        self.serves()

    def test_bad_body_framing_never_a_complete_200(self):
        for name, raw in BAD_BODIES.items():
            with self.subTest(name):
                self.up.reset_state()
                self.up.mode = "raw"
                self.up.raw = raw
                try:
                    r = q(self.tg)
                except (http.client.HTTPException, ConnectionError):
                    continue  # cut off: what a client must see
                self.assertFalse(r.status == 200 and r.body == b"hello", (name, r))
                if r.status != 200:
                    check_error(self, r, 502)
        self.serves()


class TLSUpstream(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        d = subdir("upstream-tls")
        cls.ca = tg.make_cert(d, "ca", cn="test-ca")
        cls.server = tg.make_cert(d, "up", cn="upstream", ca=cls.ca)
        cls.client = tg.make_cert(d, "client", cn="tenantgate", ca=cls.ca)
        cls.other_ca = tg.make_cert(d, "other-ca", cn="other-ca")
        cls.wrong_name = tg.make_cert(d, "wrong", cn="upstream", ca=cls.ca,
                                      san="DNS:upstream.example")

    def start(self, server, client_ca=None, args=(), name="tg-up-tls"):
        up = fake_upstream.FakeUpstream(tls=server, client_ca=client_ca)
        self.addCleanup(up.stop)
        t = tg.TenantGate(up.url, extra_args=list(args), name=name)
        self.addCleanup(t.stop)
        return up, t

    def test_verified_keep_alive_and_streaming(self):
        up, t = self.start(self.server, args=["--upstream-ca-file", self.ca[0]])
        for _ in range(4):
            r = q(t)
            self.assertEqual((r.status, r.body), (200, OK_BODY), r)
        self.assertEqual(up.conns(), [1] * 4)
        # a body of many TLS records, chunked
        up.mode = "huge"
        up.huge_bytes = 8 << 20
        up.chunked = True
        r = q(t)
        self.assertEqual((r.status, len(r.body)), (200, 8 << 20))
        self.assertEqual(r.body[-16:], fake_upstream.huge_expected_tail(8 << 20))
        # the upstream drops idle connections: the next request is still served
        up.reset_state()
        up.mode = "idle_close"
        closed = up.closed
        self.assertEqual(q(t).status, 200)
        wait_until(lambda: up.closed > closed, 5 * SLOW, "upstream closed the connection")
        self.assertEqual(q(t).status, 200)
        self.assertEqual(t.stop(timeout=30 * SLOW), 0)

    def test_unverifiable_upstream_502(self):
        for cert, ca, why in ((self.server, self.other_ca, "signed by another CA"),
                              (self.wrong_name, self.ca, "a name that is not 127.0.0.1"),
                              (self.server, None, "system roots only")):
            with self.subTest(why):
                args = ["--upstream-ca-file", ca[0]] if ca else []
                up, t = self.start(cert, args=args, name="tg-up-tls-bad")
                check_error(self, q(t), 502, "unavailable")
                self.assertEqual(up.count(), 0, "a request reached an unverified upstream")
                self.assertIn("certificate verify failed", t.proc.log())
                self.assertEqual(upstream_errors(t, "connect"), 1)

    def test_client_certificate(self):
        up, t = self.start(self.server, client_ca=self.ca[0],
                           args=["--upstream-ca-file", self.ca[0],
                                 "--upstream-client-cert-file", self.client[0],
                                 "--upstream-client-key-file", self.client[1]])
        self.assertEqual(q(t).status, 200)
        self.assertEqual(q(t).status, 200)
        self.assertEqual(up.conns(), [1, 1])
        # the same upstream without a client certificate: refused
        up2, t2 = self.start(self.server, client_ca=self.ca[0],
                             args=["--upstream-ca-file", self.ca[0]], name="tg-up-tls-nocert")
        check_error(self, q(t2), 502, "unavailable")
        self.assertEqual(up2.count(), 0)


if __name__ == "__main__":
    main()
