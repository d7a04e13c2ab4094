#!/usr/bin/env python3
"""Fault tests with real processes: request smuggling attempts, oversized
heads and bodies, slowloris, upstream faults not covered by test_core.py,
clients going away mid-request, SIGTERM / SIGHUP with requests in flight, and
many connections. Each test checks the status, that the proxy did not crash,
that nothing smuggled reached the (fake) upstream, and that the proxy serves
normally afterwards.

Run it under the ASan build too: TG_BIN=build-asan/tenantgate (leaks count)."""
import http.client
import json
import re
import os
import resource
import signal
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check_error, main  # noqa: E402
from harness import fake_upstream, tg  # noqa: E402
from harness.proc import wait_until  # noqa: E402

ALICE = "alice-token"
A = {"namespace": "alpha"}
SLOW = 4 if tg.WRAPPER else 1  # valgrind is slow: stretch the timing bounds

# a request that would reach the upstream if a parser took it as its own
SMUGGLED = (b"GET /api/v1/query?query=up&namespace=alpha HTTP/1.1\r\nHost: x\r\n"
            b"Authorization: Bearer alice-token\r\n\r\n")
POST = (b"POST /api/v1/query?namespace=alpha HTTP/1.1\r\nHost: x\r\n"
        b"Authorization: Bearer alice-token\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n")

# name -> raw bytes; every one must be refused with 400 as a whole
SMUGGLING = {
    "cl_then_te": POST + b"Content-Length: 13\r\nTransfer-Encoding: chunked\r\n\r\n"
                         b"8\r\nquery=up\r\n0\r\n\r\n" + SMUGGLED,
    "te_then_cl": POST + b"Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n"
                         b"8\r\nquery=up\r\n0\r\n\r\n" + SMUGGLED,
    "two_content_lengths": POST + b"Content-Length: 8\r\nContent-Length: 120\r\n\r\nquery=up"
                           + SMUGGLED,
    "two_equal_content_lengths": POST + b"Content-Length: 8\r\nContent-Length: 8\r\n\r\nquery=up",
    "content_length_list": POST + b"Content-Length: 8, 8\r\n\r\nquery=up",
    "negative_length": POST + b"Content-Length: -1\r\n\r\n" + SMUGGLED,
    "plus_length": POST + b"Content-Length: +8\r\n\r\nquery=up",
    "overflowing_length": POST + b"Content-Length: 18446744073709551617\r\n\r\nquery=up",
    "hex_length": POST + b"Content-Length: 0x8\r\n\r\nquery=up",
    "te_not_last_chunked": POST + b"Transfer-Encoding: chunked, identity\r\n\r\n"
                                  b"8\r\nquery=up\r\n0\r\n\r\n",
    "te_gzip_chunked": POST + b"Transfer-Encoding: gzip, chunked\r\n\r\n8\r\nquery=up\r\n0\r\n\r\n",
    "te_xchunked": POST + b"Transfer-Encoding: xchunked\r\n\r\n" + SMUGGLED,
    "te_tab": POST + b"Transfer-Encoding:\tchunked\r\n\r\n0\r\n\r\n" + SMUGGLED,
    "two_te": POST + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n",
    "te_http10": POST.replace(b"HTTP/1.1", b"HTTP/1.0")
                 + b"Transfer-Encoding: chunked\r\n\r\n8\r\nquery=up\r\n0\r\n\r\n",
    "chunk_size_not_hex": POST + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nquery=up\r\n0\r\n\r\n",
    "chunk_size_negative": POST + b"Transfer-Encoding: chunked\r\n\r\n-8\r\nquery=up\r\n0\r\n\r\n",
    "chunk_size_0x": POST + b"Transfer-Encoding: chunked\r\n\r\n0x8\r\nquery=up\r\n0\r\n\r\n",
    "chunk_extension": POST + b"Transfer-Encoding: chunked\r\n\r\n8;a=b\r\nquery=up\r\n0\r\n\r\n",
    "chunk_too_long": POST + b"Transfer-Encoding: chunked\r\n\r\n2\r\nquery=up\r\n0\r\n\r\n",
    "chunk_trailer": POST + b"Transfer-Encoding: chunked\r\n\r\n8\r\nquery=up\r\n0\r\n"
                            b"X-Forwarded-For: 1.2.3.4\r\n\r\n",
    "obs_fold_te": POST + b"Transfer-Encoding:\r\n chunked\r\n\r\n8\r\nquery=up\r\n0\r\n\r\n",
    "obs_fold_other": SMUGGLED[:-2] + b"X-Folded: a\r\n\tb\r\n\r\n",
    "bare_lf": SMUGGLED.replace(b"\r\n", b"\n"),
    "bare_lf_one_line": SMUGGLED.replace(b"Host: x\r\n", b"Host: x\nTransfer-Encoding: chunked\r\n"),
    "bare_cr": SMUGGLED.replace(b"Host: x\r\n", b"Host: x\rX: y\r\n"),
    "nul_in_value": SMUGGLED.replace(b"Host: x", b"Host: x\0Transfer-Encoding: chunked"),
    "nul_in_name": SMUGGLED.replace(b"Host: x", b"Ho\0st: x"),
    "space_before_colon": POST + b"Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n" + SMUGGLED,
    "head_with_body": (b"HEAD /api/v1/query HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                       % len(SMUGGLED)) + SMUGGLED,
    "space_in_target": b"GET /api/v1/query?query=up HTTP/1.1&namespace=alpha HTTP/1.1\r\n\r\n",
    "http09": b"GET /api/v1/query?query=up&namespace=alpha\r\n\r\n",
    "http2_version": SMUGGLED.replace(b"HTTP/1.1", b"HTTP/2.0"),
}


def raw_exchange(host, port, data, timeout=10, shut=False):
    """Send `data`, read until the server closes (or `timeout`). Returns
    (bytes read, closed_by_server)."""
    s = socket.create_connection((host, port), timeout=timeout)
    out = b""
    closed = False
    try:
        try:
            s.sendall(data)
            if shut:
                s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                b = s.recv(65536)
            except socket.timeout:
                break
            except OSError:  # reset after the answer
                closed = True
                break
            if not b:
                closed = True
                break
            out += b
    finally:
        s.close()
    return out, closed


def parse_responses(data):
    """Split raw HTTP/1.1 responses with Content-Length bodies: [(status, headers, body)]."""
    res = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            break
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(b":")
            headers[k.strip().lower().decode()] = v.strip().decode()
        if "content-length" in headers:
            n = int(headers["content-length"])
            body, data = rest[:n], rest[n:]
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                size_line, _, rest = rest.partition(b"\r\n")
                size = int(size_line, 16)
                body += rest[:size]
                rest = rest[size + 2:]
                if size == 0:
                    break
            data = rest
        else:
            body, data = rest, b""
        res.append((status, headers, body))
    return res


def gauge(t, name):
    for line in t.metrics().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError("no %s on /metrics" % name)


def open_connections(t):
    return gauge(t, "tenantgate_open_connections")


def read_raw(s):
    """Everything the server sends until it closes; (bytes, error or None)."""
    out = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                return out, None
            out += b
    except OSError as e:
        return out, e


def complete_message(data):
    """(status, complete) for one raw HTTP/1.1 response read until the close:
    complete when the body is all there by Content-Length or ends with the
    last chunk. A client can tell an incomplete one from an answer."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return None, False
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(b":")
        hdrs[k.strip().lower()] = v.strip()
    if b"content-length" in hdrs:
        return status, len(body) >= int(hdrs[b"content-length"])
    if hdrs.get(b"transfer-encoding", b"").lower() == b"chunked":
        rest = body
        while True:
            size_line, nl, rest = rest.partition(b"\r\n")
            if not nl:
                return status, False
            try:
                size = int(size_line.split(b";")[0], 16)
            except ValueError:
                return status, False
            if size == 0:
                return status, rest.startswith(b"\r\n")
            if len(rest) < size + 2:
                return status, False
            rest = rest[size + 2:]
    return status, True  # delimited by the close: indistinguishable, so "complete"


class FaultCase(unittest.TestCase):
    tg_config = None  # default config_yaml()

    @classmethod
    def setUpClass(cls):
        cls.up = fake_upstream.FakeUpstream()
        try:
            kw = {} if cls.tg_config is None else {"config": cls.tg_config}
            cls.tg = tg.TenantGate(cls.up.url, name="tg-" + cls.__name__.lower(), **kw)
        except Exception:
            cls.up.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        rc = cls.tg.stop(timeout=30 * SLOW)
        cls.up.stop()
        if rc != 0:
            raise AssertionError("tenantgate exited with %s:\n%s" % (rc, cls.tg.proc.log()[-3000:]))

    def setUp(self):
        self.up.reset_state()

    def assertServes(self):
        self.assertTrue(self.tg.proc.alive(), "tenantgate died")
        self.up.reset_state()
        r = self.tg.get("/api/v1/query", dict(A, query="up"), token=ALICE)
        self.assertEqual(r.status, 200, r)

    def assertRefused(self, data, status, what):
        out, closed = raw_exchange(self.tg.host, self.tg.port, data, timeout=10 * SLOW)
        res = parse_responses(out)
        self.assertEqual(len(res), 1, "%s: want exactly one answer, got %r" % (what, out[:500]))
        st, headers, body = res[0]
        self.assertEqual(st, status, "%s: %r" % (what, out[:500]))
        self.assertEqual(headers.get("content-type"), "application/json", what)
        self.assertEqual(headers.get("connection"), "close", what)
        j = json.loads(body)
        self.assertEqual(j["status"], "error", what)
        self.assertTrue(closed, "%s: connection left open after the refusal" % what)
        self.assertNothingForwarded(what)

    def forwarded(self):
        """What tenantgate sent the upstream, once it has nothing in flight:
        a forwarded request keeps tenantgate_requests_in_flight above 0 until
        the upstream answers, and the fake upstream records a request before
        answering it. A request of ours then passes the same event loop after
        everything before it (its own record is left out)."""
        wait_until(lambda: gauge(self.tg, "tenantgate_requests_in_flight") == 0, 10 * SLOW,
                   "no request in flight")
        r = self.tg.get("/api/v1/query", {"query": "up", "namespace": "alpha", "barrier": "1"},
                        token=ALICE)
        self.assertEqual(r.status, 200, r)
        with self.up.lock:
            return [q for q in self.up.requests if ("barrier", "1") not in q["params"]]

    def assertNothingForwarded(self, what):
        got = self.forwarded()
        self.assertEqual(got, [], "%s: something reached the upstream: %r"
                         % (what, [q["target"] for q in got]))


class Smuggling(FaultCase):
    def test_smuggling_attempts_refused_400(self):
        for name, data in SMUGGLING.items():
            with self.subTest(name):
                self.up.reset_state()
                self.assertRefused(data, 400, name)
        self.assertServes()
        # operators see them: counted as route "refused"
        m = re.search(r'^tenantgate_requests_total\{route="refused",code="400"\} (\d+)$', self.tg.metrics(), re.M)
        self.assertIsNotNone(m)
        self.assertGreaterEqual(int(m.group(1)), len(SMUGGLING))

    def test_unknown_method_and_expectation_answered_in_json(self):
        # evhttp would answer these with its own HTML page (and an unknown
        # method's body would be read as the next request)
        for data, status, what in (
            (b"BREW /api/v1/query?query=up HTTP/1.1\r\nHost: x\r\n\r\n", 501, "unknown method"),
            (b"PROPFIND / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", 501, "WebDAV method"),
            ((b"BREW /api/v1/query HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(SMUGGLED))
             + SMUGGLED, 501, "unknown method with a request as its body"),
            (POST + b"Expect: 200-ok\r\nContent-Length: 9\r\n\r\nquery=up&", 417, "unknown expectation"),
        ):
            with self.subTest(what):
                self.up.reset_state()
                self.assertRefused(data, status, what)
        self.assertServes()

    def test_smuggling_attempts_byte_by_byte(self):
        # the framing check keeps state across reads: the same verdicts when
        # every byte arrives in its own segment
        for name in ("cl_then_te", "bare_lf", "obs_fold_te", "chunk_trailer", "head_with_body"):
            with self.subTest(name):
                self.up.reset_state()
                s = socket.create_connection((self.tg.host, self.tg.port), timeout=10 * SLOW)
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                out = b""
                try:
                    for i in range(len(SMUGGLING[name])):
                        try:
                            s.send(SMUGGLING[name][i:i + 1])
                        except OSError:
                            break
                        time.sleep(0.001)
                    while True:
                        try:
                            b = s.recv(65536)
                        except OSError:
                            break
                        if not b:
                            break
                        out += b
                finally:
                    s.close()
                self.assertTrue(out.startswith(b"HTTP/1.1 400 "), "%s: %r" % (name, out[:300]))
                self.assertNothingForwarded(name)
        self.assertServes()

    def test_valid_chunked_body_accepted(self):
        body = b"query=up&namespace=alpha"
        data = (b"POST /api/v1/query HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer alice-token\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n"
                b"Connection: close\r\n\r\n"
                + b"%x\r\n%s\r\n" % (10, body[:10]) + b"%x\r\n%s\r\n" % (len(body) - 10, body[10:])
                + b"0\r\n\r\n")
        out, _ = raw_exchange(self.tg.host, self.tg.port, data, timeout=10 * SLOW)
        res = parse_responses(out)
        self.assertEqual(len(res), 1, out[:300])
        self.assertEqual(res[0][0], 200, out[:300])
        rec = self.up.last()
        q = [v for k, v in rec["params"] + rec["form"] if k == "query"]
        self.assertEqual(q, ['up{namespace="alpha"}'])

    def test_pipelined_requests_each_answered(self):
        one = (b"GET /api/v1/query?query=up&namespace=alpha HTTP/1.1\r\nHost: x\r\n"
               b"Authorization: Bearer alice-token\r\n\r\n")
        last = one.replace(b"Host: x\r\n", b"Host: x\r\nConnection: close\r\n")
        out, closed = raw_exchange(self.tg.host, self.tg.port, one + one + last,
                                   timeout=10 * SLOW)
        res = parse_responses(out)
        self.assertEqual([r[0] for r in res], [200, 200, 200], out[:500])
        self.assertTrue(closed)
        self.assertEqual(len(self.forwarded()), 3)

    def test_refused_request_after_good_one_on_same_connection(self):
        # the good one is answered, the smuggling attempt behind it refused
        good = (b"GET /api/v1/query?query=up&namespace=alpha HTTP/1.1\r\nHost: x\r\n"
                b"Authorization: Bearer alice-token\r\n\r\n")
        out, closed = raw_exchange(self.tg.host, self.tg.port,
                                   good + good + SMUGGLING["cl_then_te"] + good,
                                   timeout=10 * SLOW)
        res = parse_responses(out)
        self.assertEqual([r[0] for r in res], [200, 200, 400], out[:800])
        self.assertTrue(closed)
        self.assertEqual(len(self.forwarded()), 2)
        self.assertServes()


class FuzzRegressions(FaultCase):
    def test_unenforced_promql_parameters_never_forwarded(self):
        # fuzz_request: /api/v1/rules forwarded a `query` parameter as it came
        for path in ("/api/v1/rules", "/api/v1/alerts", "/api/v1/status/buildinfo",
                     "/api/v1/query", "/api/v1/series"):
            with self.subTest(path=path):
                self.up.reset_state()
                self.up.mode = "echo"
                q = [("namespace", "alpha"), ("query", 'up{namespace="beta"}'),
                     ("match[]", '{namespace="beta"}')]
                r = self.tg.get(path, q, token=ALICE)
                self.assertEqual(r.status, 200, r)
                for rec in self.up.requests:
                    for k, v in rec["params"] + rec["form"]:
                        if k in ("query", "match[]"):
                            self.assertIn('namespace="alpha"', v, (path, rec["target"]))
                            self.assertNotIn("beta", v, (path, rec["target"]))

    def test_post_without_query_string(self):
        # fuzz_request: a target without '?' (UBSan: arithmetic on NULL)
        r = self.tg.post("/api/v1/query", form={"query": "up", "namespace": "alpha"},
                         token=ALICE)
        self.assertEqual(r.status, 200, r)


class TLSSmuggling(unittest.TestCase):
    """Over TLS a refused request is answered with the same JSON error as on
    a plain listener (through a stand-in request evhttp parses), after the
    requests pipelined before it; nothing reaches the upstream and the proxy
    keeps serving."""

    def exchange(self, t, data, *more):
        import ssl
        ctx = ssl._create_unverified_context()
        raw = socket.create_connection((t.host, t.tls_port), timeout=10 * SLOW)
        s = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
        out = b""
        try:
            s.sendall(data)
            for part in more:  # later parts after evhttp read the earlier ones
                time.sleep(0.2)
                s.sendall(part)
            while True:
                b = s.recv(65536)
                if not b:
                    break
                out += b
        except (OSError, ssl.SSLError):
            pass
        finally:
            s.close()
        return parse_responses(out), out

    def test_refused_over_tls_answered_in_json(self):
        up = fake_upstream.FakeUpstream()
        t = tg.TenantGate(up.url, tls=True, name="tg-tls-smuggling")
        try:
            cases = [(SMUGGLING[n], 400, n) for n in ("cl_then_te", "bare_lf", "head_with_body", "chunk_trailer")]
            cases.append((b"BREW / HTTP/1.1\r\nHost: x\r\n\r\n", 501, "unknown method"))
            for data, status, name in cases:
                with self.subTest(name):
                    up.reset_state()
                    res, out = self.exchange(t, data)
                    self.assertEqual(len(res), 1, out[:300])
                    st, headers, body = res[0]
                    self.assertEqual(st, status, out[:300])
                    self.assertEqual(headers.get("content-type"), "application/json")
                    self.assertEqual(headers.get("connection"), "close")
                    self.assertEqual(json.loads(body)["status"], "error")
                    self.assertEqual(up.count(), 0, name)
            with self.subTest("refused after evhttp read the first lines: closed, never HTML"):
                up.reset_state()
                res, out = self.exchange(t, b"POST /api/v1/query HTTP/1.1\r\nHost: x\r\n",
                                         b" folded\r\nContent-Length: 0\r\n\r\n")
                self.assertTrue(out == b"" or (len(res) == 1 and res[0][1].get("content-type") ==
                                               "application/json"), out[:300])
                self.assertEqual(up.count(), 0)
            with self.subTest("pipelined: good request, then a refused one"):
                up.reset_state()
                good = (b"GET /api/v1/query?query=up&namespace=alpha HTTP/1.1\r\nHost: x\r\n"
                        b"Authorization: Bearer alice-token\r\n\r\n")
                res, out = self.exchange(t, good + SMUGGLING["cl_then_te"])
                self.assertEqual([r[0] for r in res], [200, 400], out[:600])
                self.assertEqual(up.count(), 1)
            up.reset_state()
            r = t.request("GET", "/api/v1/query", query=dict(A, query="up"), token=ALICE, tls=True)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(t.stop(timeout=30 * SLOW), 0)
        finally:
            t.stop()
            up.stop()


class Limits(FaultCase):
    def test_oversized_head_431(self):
        data = SMUGGLED[:-2] + b"X-Big: " + b"a" * (70 * 1024) + b"\r\n\r\n"
        self.assertRefused(data, 431, "one 70 KiB header")
        many = SMUGGLED[:-2] + b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 60) for i in range(2000)) + b"\r\n"
        self.assertRefused(many, 431, "2000 headers")
        self.assertRefused(b"GET /" + b"a" * (70 * 1024) + b" HTTP/1.1\r\n\r\n", 431,
                           "70 KiB request line")
        self.assertServes()

    def test_oversized_body_413_json(self):
        # announced by Content-Length: refused as soon as the head is read
        body = b"query=" + b"x" * (5 * 1024 * 1024)
        self.assertRefused(POST + b"Content-Length: %d\r\n\r\n" % len(body) + body[:4096], 413,
                           "Content-Length over the limit")
        # chunked: refused when the chunks add up to more than the limit
        chunk = b"x" * (1024 * 1024)
        data = POST + b"Transfer-Encoding: chunked\r\n\r\n" + (b"100000\r\n" + chunk + b"\r\n") * 5
        self.assertRefused(data, 413, "chunked body over the limit")
        self.assertServes()

    def test_body_at_the_limit_accepted(self):
        body = b"query=up&namespace=alpha&pad=" + b"x" * 1000
        r = self.tg.request("POST", "/api/v1/query", token=ALICE, body=body,
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(r.status, 200, r)


class Slowloris(FaultCase):
    tg_config = tg.config_yaml() + "server:\n  headerTimeout: 2s\n"

    def test_trickled_headers_closed_after_header_timeout(self):
        s = socket.create_connection((self.tg.host, self.tg.port), timeout=30)
        t0 = time.monotonic()
        closed_at = None
        try:
            s.sendall(b"GET /api/v1/query?query=up&namespace=alpha HTTP/1.1\r\n")
            for i in range(40):  # 20 s of one header line every 0.5 s
                try:
                    s.sendall(b"X-Slow-%d: 1\r\n" % i)
                except OSError:
                    closed_at = time.monotonic()
                    break
                s.settimeout(0.5)
                try:
                    if s.recv(4096) == b"":
                        closed_at = time.monotonic()
                        break
                except socket.timeout:
                    pass
                except OSError:
                    closed_at = time.monotonic()
                    break
        finally:
            s.close()
        # closed while it kept trickling (a header line every 0.5 s): the
        # timeout counts from the first byte, no line extends it
        self.assertIsNotNone(closed_at, "a connection trickling headers was never closed")
        took = closed_at - t0
        self.assertGreaterEqual(took, 1.9, "closed before the header timeout")
        self.assertNothingForwarded("trickled headers")
        self.assertServes()

    def test_silent_connection_closed_after_header_timeout(self):
        # connects and never sends a byte
        s = socket.create_connection((self.tg.host, self.tg.port), timeout=30)
        t0 = time.monotonic()
        try:
            try:
                self.assertEqual(s.recv(1), b"")
            except ConnectionResetError:
                pass
        finally:
            s.close()
        took = time.monotonic() - t0
        self.assertGreaterEqual(took, 1.9, "closed before the header timeout")
        wait_until(lambda: open_connections(self.tg) <= 1, 5 * SLOW, "connection released")
        self.assertServes()

    def test_many_slow_clients_do_not_block_others(self):
        socks = []
        try:
            for _ in range(50):
                s = socket.create_connection((self.tg.host, self.tg.port), timeout=10)
                s.sendall(b"GET /api/v1/query?query=up HTTP/1.1\r\nX-a: b\r\n")
                socks.append(s)
            # served while they all wait (tenantgate sees them open)
            self.assertServes()
            self.assertGreaterEqual(open_connections(self.tg), 50)
            wait_until(lambda: all(self._closed(s) for s in socks), 30 * SLOW,
                       "slow clients closed after the header timeout")
        finally:
            for s in socks:
                s.close()

    @staticmethod
    def _closed(s):
        s.settimeout(0.01)
        try:
            return s.recv(1) == b""
        except socket.timeout:
            return False
        except OSError:
            return True


class UpstreamFaults(FaultCase):
    """What test_core.UpstreamFaults does not cover: an upstream that closes
    without answering, one that ends a Content-Length body early with a clean
    FIN, and a broken chunked encoding. After each the pool must not hand out a
    dead connection."""

    def q(self):
        try:
            return self.tg.get("/api/v1/query", dict(A, query="up"), token=ALICE, timeout=30)
        except (http.client.HTTPException, ConnectionError) as e:
            return e

    def test_upstream_closes_without_answer_502(self):
        self.up.mode = "close"
        r = self.q()
        self.assertIsInstance(r, tg.Resp, r)
        check_error(self, r, 502)
        self.assertServes()

    def assertBrokenOr502(self, what, path="/api/v1/query?query=up&namespace=alpha"):
        """The client sees a 502, or a response it can tell is cut off (body
        shorter than its Content-Length, chunked without the last chunk, a
        reset, or the connection closed before any byte once the answer had
        been started): never a complete answer made of a partial one."""
        s = socket.create_connection((self.tg.host, self.tg.port), timeout=30)
        try:
            s.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                      b"Authorization: Bearer alice-token\r\n\r\n")
            data, err = read_raw(s)
        finally:
            s.close()
        status, complete = complete_message(data)
        if data == b"":
            return  # closed without a byte: no client takes that for an answer
        if status == 502:
            self.assertTrue(complete, "%s: %r" % (what, data[:300]))
            return
        self.assertEqual(status, 200, "%s: %r" % (what, data[:300]))
        self.assertFalse(complete and err is None,
                         "%s: a broken upstream answer was passed on as a complete 200: %r"
                         % (what, data[:300]))

    def test_upstream_truncated_body_is_not_a_complete_200(self):
        self.up.mode = "truncate"
        self.assertBrokenOr502("truncated body")
        # filtered routes (rules): the same
        self.up.mode = "truncate"
        self.assertBrokenOr502("truncated rules", "/api/v1/rules?namespace=alpha")
        self.assertServes()

    def test_upstream_bad_chunk_is_not_a_complete_200(self):
        self.up.mode = "badchunk"
        self.assertBrokenOr502("bad chunk")
        self.up.mode = "badchunk"
        self.assertBrokenOr502("bad chunk, rules", "/api/v1/rules?namespace=alpha")
        self.assertServes()

    def test_upstream_faults_repeatedly_leave_nothing_behind(self):
        fds0 = self.tg.proc.open_fds()
        for mode in ("close", "truncate", "badchunk", "garbage", "reset") * 4:
            self.up.mode = mode
            self.q()
        self.assertServes()
        wait_until(lambda: self.tg.proc.open_fds() <= fds0 + 2, 5 * SLOW,
                   "fd count back to %d" % fds0)


class ClientFaults(FaultCase):
    def test_client_disconnects_mid_request(self):
        base = open_connections(self.tg)
        for i in range(20):
            s = socket.create_connection((self.tg.host, self.tg.port), timeout=5)
            if i % 2:
                s.sendall(POST + b"Content-Length: 1000\r\n\r\nquery=up")  # body cut short
            else:
                s.sendall(POST[:40])  # head cut short
            if i % 4 < 2:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")  # RST
            s.close()
        wait_until(lambda: open_connections(self.tg) == base, 5 * SLOW,
                   "open connections back to %d" % base)
        self.assertNothingForwarded("requests cut short")
        self.assertServes()

    def test_client_disconnects_mid_response_while_upstream_trickles(self):
        self.up.mode = "trickle"
        self.up.trickle_bytes = 200
        self.up.trickle_interval = 0.02
        for _ in range(5):
            c = self.tg.conn(timeout=10)
            c.request("GET", "/api/v1/query?query=up&namespace=alpha",
                      headers={"Authorization": "Bearer " + ALICE})
            r = c.getresponse()
            r.read(10)
            r.close()
            c.close()
        wait_until(lambda: open_connections(self.tg) <= 1, 10 * SLOW, "connections released")
        self.assertServes()


class ManyConnections(FaultCase):
    N = 2000
    # idle connections are closed after the header timeout: keep it out of the way
    tg_config = tg.config_yaml() + "server:\n  headerTimeout: 120s\n"

    @classmethod
    def setUpClass(cls):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = min(hard, 3 * cls.N + 200)
        if soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))  # inherited by tenantgate
        super().setUpClass()

    def test_connections_counted_and_released(self):
        base = open_connections(self.tg)
        socks = []
        try:
            for i in range(self.N):
                s = socket.create_connection((self.tg.host, self.tg.port), timeout=10)
                if i % 3 == 1:
                    s.sendall(b"GET /api/v1/query?query=up")  # a started head
                socks.append(s)
            # a complete keep-alive request on some of them
            for s in socks[::300]:  # (never one with a started head)
                s.sendall(b"GET /api/v1/query?query=up&namespace=alpha HTTP/1.1\r\nHost: x\r\n"
                          b"Authorization: Bearer alice-token\r\n\r\n")
            for s in socks[::300]:
                s.settimeout(10 * SLOW)
                self.assertTrue(s.recv(65536).startswith(b"HTTP/1.1 200"))
            wait_until(lambda: open_connections(self.tg) >= base + self.N, 10 * SLOW,
                       "%d connections counted" % self.N)
            self.assertServes()
        finally:
            for i, s in enumerate(socks):
                if i % 2:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
                s.close()
        wait_until(lambda: open_connections(self.tg) == 0, 10 * SLOW,
                   "tenantgate_open_connections back to 0 (now %s)"
                   % open_connections(self.tg))
        self.assertServes()


class Signals(unittest.TestCase):
    def test_sigterm_with_many_requests_in_flight(self):
        up = fake_upstream.FakeUpstream()
        t = tg.TenantGate(up.url, name="tg-sigterm-many")
        try:
            up.mode = "hold"  # in flight until the test releases them
            res = []
            lock = threading.Lock()

            def client():
                try:
                    r = t.get("/api/v1/query", dict(A, query="up"), token=ALICE, timeout=30 * SLOW)
                except Exception as e:  # noqa: BLE001
                    r = e
                with lock:
                    res.append(r)
            ths = [threading.Thread(target=client) for _ in range(8)]
            for th in ths:
                th.start()
            wait_until(lambda: up.held == 8, 10 * SLOW, "8 requests in flight")
            t.proc.signal(signal.SIGTERM)
            wait_until(lambda: t.internal("/readyz").status == 503, 10 * SLOW,
                       "not ready while draining", proc=t.proc)
            self.assertEqual(up.held, 8)
            up.open_gate()
            for th in ths:
                th.join(30 * SLOW)
            self.assertEqual(len(res), 8)
            for r in res:
                self.assertIsInstance(r, tg.Resp, r)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.json()["status"], "success", r)
            self.assertEqual(t.proc.wait(30 * SLOW), 0, "exit code after SIGTERM")
        finally:
            t.stop()
            up.stop()

    def test_sighup_broken_config_while_requests_in_flight(self):
        up = fake_upstream.FakeUpstream()
        t = tg.TenantGate(up.url, name="tg-sighup-inflight")
        try:
            up.mode = "hold"
            res = {}

            def client():
                res["r"] = t.get("/api/v1/query", dict(A, query="up"), token=ALICE,
                                 timeout=30 * SLOW)
            th = threading.Thread(target=client)
            th.start()
            wait_until(lambda: up.held == 1, 10 * SLOW, "request in flight")
            with open(t.config_file, "w") as f:
                f.write("authorization:\n  static: [{user: {name: alice}, verb: [oops\n")
            t.proc.signal(signal.SIGHUP)
            wait_until(lambda: t.proc.log_count("configuration not reloaded") == 1, 10 * SLOW,
                       "reload refused", proc=t.proc)
            up.open_gate()
            th.join(30 * SLOW)
            self.assertEqual(res["r"].status, 200, res)
            self.assertEqual(res["r"].json()["status"], "success", res)
            up.reset_state()
            self.assertEqual(t.get("/api/v1/query", dict(A, query="up"), token=ALICE).status, 200)
            self.assertEqual(t.get("/api/v1/query", {"query": "up", "namespace": "beta"},
                                   token=ALICE).status, 403)
            self.assertIn("configuration not reloaded", t.proc.log())
            self.assertEqual(t.stop(timeout=30 * SLOW), 0)
        finally:
            t.stop()
            up.stop()


if __name__ == "__main__":
    main()
