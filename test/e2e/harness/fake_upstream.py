"""A fake upstream (Prometheus stand-in) for fault tests, in a thread.

Set `mode` (and its knobs) before a request; every request received is
recorded in `requests` (method, raw target, path, query pairs, headers, body).

Modes:
  json     answer `status` with `body` (bytes or a JSON-able object)
  huge     200 with `huge_bytes` bytes generated on the fly (Content-Length, or
           chunked when `chunked`), made of a repeated 64 KiB block
  stall    read the request, never answer (until the client or the test closes)
  reset    send headers and `reset_after` body bytes, then RST the connection
  garbage  answer non-HTTP bytes and close
  trickle  200 with `trickle_bytes` bytes, one every `trickle_interval` seconds
  echo     200 JSON describing the request (what the upstream saw)
  close    read the request, close without answering
  truncate 200 announcing Content-Length 1000, send 100 bytes, close cleanly (FIN)
  badchunk 200 chunked with a chunk-size line that is not hex
  raw      write `raw` (any bytes: a response of the test's making), then close
           the connection, or keep it (and answer the next request on it as
           `after_raw` says) when `raw_keep`
  idle_close      answer like json (keep-alive), then close the connection: the
                  upstream dropping an idle pooled connection
  close_on_reuse  the first request on a connection is answered like json; a
                  later one on the same connection is read and the connection
                  closed without an answer (the stale keep-alive race)
  head_on_reuse   the same, but the first line of an answer is sent first
  hold     requests whose target contains `hold_match` (all when it is "") wait
           until the test lets them go (`release(n)`, `open_gate()`), then answer
           like json; `held`/`max_held` count the ones waiting now / at most at once,
           `wait_held(n)` waits for an event, not a time; the others answer at once

Every record also carries `conn` (the connection's number, in accept order)
and `nth` (the request's number on that connection). FakeUpstream(tls=(cert,
key), client_ca=path) serves HTTPS (requiring a client certificate when
client_ca is given).
"""
import http.server
import json
import itertools
import socket
import ssl
import struct
import threading
import time
import urllib.parse

from .proc import free_port

BLOCK = (b"0123456789abcdef" * 4096)  # 64 KiB


def huge_expected_tail(total, n=16):
    """The last n bytes of a `huge` body of `total` bytes."""
    start = total - n
    out = bytearray()
    for i in range(start, total):
        out.append(BLOCK[i % len(BLOCK)])
    return bytes(out)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # TCP_NODELAY, as Prometheus (Go) has: http.server writes the headers and
    # the body in two sends, and with Nagle the body waits for the peer's
    # delayed ACK (40 ms on every keep-alive request through the proxy)
    disable_nagle_algorithm = True

    def log_message(self, *a):
        pass

    def setup(self):
        super().setup()
        self.conn_no = next(self.server.owner.conn_ids)
        self.nth = 0

    def finish(self):
        try:
            super().finish()
        finally:
            up = self.server.owner
            with up.lock:
                up.closed += 1

    def _record(self):
        up = self.server.owner
        body = b""
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            while True:
                line = self.rfile.readline()
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                body += self.rfile.read(size)
                self.rfile.readline()
        else:
            n = int(self.headers.get("Content-Length") or 0)
            if n:
                body = self.rfile.read(n)
        u = urllib.parse.urlsplit(self.path)
        rec = {
            "method": self.command,
            "target": self.path,
            "path": u.path,
            "query": u.query,
            "params": urllib.parse.parse_qsl(u.query, keep_blank_values=True),
            "headers": [(k, v) for k, v in self.headers.items()],
            "body": body,
            "form": urllib.parse.parse_qsl(body.decode("latin-1"), keep_blank_values=True)
            if body else [],
            "peer": self.client_address,
            "time": time.time(),
            "conn": self.conn_no,
            "nth": self.nth,
        }
        with up.lock:
            up.requests.append(rec)
        return rec

    def _any(self):
        up = self.server.owner
        self.nth += 1
        rec = self._record()
        mode = up.mode
        try:
            getattr(self, "_mode_" + mode)(up, rec)
        except (BrokenPipeError, ConnectionResetError, socket.timeout, OSError):
            with up.lock:
                up.aborted += 1
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _any

    def _send(self, status, body, ctype="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _mode_json(self, up, rec):
        if rec["path"].endswith("/api/v1/label/__name__/values"):
            # tenantgate's metadata route first asks which metric names the
            # tenant has: answer like Prometheus, with no names
            self._send(200, b'{"status":"success","data":[]}')
            return
        body = up.body
        if not isinstance(body, (bytes, bytearray)):
            body = json.dumps(body).encode()
        self._send(up.status, body)

    def _mode_echo(self, up, rec):
        d = dict(rec)
        d["body"] = rec["body"].decode("latin-1")
        d["peer"] = list(rec["peer"])
        self._send(200, json.dumps({"status": "success", "data": d}).encode())

    def _mode_huge(self, up, rec):
        total = up.huge_bytes
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if up.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(total))
        self.end_headers()
        with up.lock:
            up.streams_active += 1
        try:
            sent = 0
            while sent < total:
                n = min(len(BLOCK), total - sent)
                chunk = BLOCK[:n]
                if up.chunked:
                    self.wfile.write(b"%x\r\n" % n + chunk + b"\r\n")
                else:
                    self.wfile.write(chunk)
                sent += n
                up.huge_sent = sent
            if up.chunked:
                self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
            with up.lock:
                up.streams_completed += 1
        finally:
            with up.lock:
                up.streams_active -= 1

    def _mode_stall(self, up, rec):
        self.connection.settimeout(0.2)
        deadline = time.time() + up.stall_seconds
        while time.time() < deadline and not up.stopping:
            try:
                if self.connection.recv(1, socket.MSG_PEEK) == b"":
                    break  # the client went away
            except socket.timeout:
                continue
            except OSError:
                break
            time.sleep(0.1)
        with up.lock:
            up.stall_ended += 1
        self.close_connection = True

    def _mode_reset(self, up, rec):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(up.reset_after * 10))
        self.end_headers()
        self.wfile.write(b'{"status":"success","data":' + b" " * max(0, up.reset_after - 27))
        self.wfile.flush()
        time.sleep(0.1)
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def _mode_garbage(self, up, rec):
        self.wfile.write(b"\x00\x01\x02 this is not HTTP \xff\xfe\r\n\r\n")
        self.wfile.flush()
        self.close_connection = True

    def _mode_close(self, up, rec):
        self.close_connection = True

    def _mode_truncate(self, up, rec):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "1000")
        self.end_headers()
        self.wfile.write(b'{"status":"success","data":' + b" " * 73)
        self.wfile.flush()
        self.close_connection = True

    def _mode_badchunk(self, up, rec):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.write(b"5\r\n{\"sta\r\nzz-not-hex\r\nxx\r\n0\r\n\r\n")
        self.wfile.flush()
        self.close_connection = True

    def _mode_raw(self, up, rec):
        self.wfile.write(up.raw)
        self.wfile.flush()
        if up.raw_keep:
            up.mode = up.after_raw
        else:
            self.close_connection = True

    def _mode_idle_close(self, up, rec):
        self._mode_json(up, rec)
        self.wfile.flush()
        self.close_connection = True

    def _mode_close_on_reuse(self, up, rec):
        if self.nth == 1:
            self._mode_json(up, rec)
        else:
            self.close_connection = True

    def _mode_head_on_reuse(self, up, rec):
        if self.nth == 1:
            self._mode_json(up, rec)
        else:
            self.wfile.write(b"HTTP/1.1 200 OK\r\n")
            self.wfile.flush()
            self.close_connection = True

    def _mode_hold(self, up, rec):
        seen = (urllib.parse.unquote_plus(self.path) + "\n"
                + urllib.parse.unquote_plus(rec["body"].decode("latin-1")))
        if up.hold_match in seen:
            with up.cond:
                up.held += 1
                up.max_held = max(up.max_held, up.held)
                up.cond.notify_all()
                deadline = time.monotonic() + up.stall_seconds
                while up.releases == 0 and not up.gate_open and not up.stopping \
                        and time.monotonic() < deadline:
                    up.cond.wait(0.5)
                if up.releases > 0:
                    up.releases -= 1
                up.held -= 1
                up.cond.notify_all()
        self._mode_json(up, rec)

    def _mode_trickle(self, up, rec):
        body = (b'{"status":"success","data":{"resultType":"scalar","result":[1,"1"]}}'
                * (1 + up.trickle_bytes // 60))[:up.trickle_bytes]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.flush()
        for i in range(len(body)):
            self.wfile.write(body[i:i + 1])
            self.wfile.flush()
            time.sleep(up.trickle_interval)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default listen backlog is 5: a burst of 100 connections
    # overflows it and the dropped SYNs come back after 1, 3, 7, 15 s...,
    # which looks like a proxy that hangs
    request_queue_size = 1024

    def handle_error(self, request, client_address):
        # TLS tests make handshakes fail on purpose: no traceback for those
        import sys
        if not isinstance(sys.exc_info()[1], (ssl.SSLError, ConnectionError)):
            super().handle_error(request, client_address)


class FakeUpstream:
    DEFAULT_BODY = {"status": "success", "data": {"resultType": "vector", "result": []}}

    def __init__(self, tls=None, client_ca=None):
        self.port = free_port()
        self.url = "%s://127.0.0.1:%d" % ("https" if tls else "http", self.port)
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.requests = []
        self.conn_ids = itertools.count(1)
        self.closed = 0  # connections whose handler finished (closed by either side)
        self.reset_state()
        self.stopping = False
        self.httpd = _Server(("127.0.0.1", self.port), _Handler)
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(tls[0], tls[1])
            if client_ca:
                ctx.load_verify_locations(client_ca)
                ctx.verify_mode = ssl.CERT_REQUIRED
            # the handshake runs in the handler's thread (first read), not in accept
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True,
                                                do_handshake_on_connect=False)
        self.httpd.owner = self
        self.t = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.t.start()

    def reset_state(self):
        self.mode = "json"
        self.status = 200
        self.body = self.DEFAULT_BODY
        self.huge_bytes = 1 << 30
        self.chunked = False
        self.huge_sent = 0
        self.stall_seconds = 60
        self.reset_after = 100
        self.trickle_bytes = 40
        self.trickle_interval = 0.05
        self.aborted = 0
        self.streams_active = 0
        self.streams_completed = 0
        self.stall_ended = 0
        self.raw = b""
        self.raw_keep = False
        self.after_raw = "json"
        self.hold_match = ""
        with self.lock:
            self.requests.clear()
            self.held = 0
            self.max_held = 0
            self.releases = 0
            self.gate_open = False
            self.cond.notify_all()

    # hold mode
    def release(self, n=1):
        """Let n held requests (now or later) answer."""
        with self.cond:
            self.releases += n
            self.cond.notify_all()

    def open_gate(self):
        """Let every held request answer, and hold none from now on."""
        with self.cond:
            self.gate_open = True
            self.cond.notify_all()

    def wait_held(self, n, timeout=20):
        """Wait until exactly n requests are held (returns when it happens)."""
        with self.cond:
            if not self.cond.wait_for(lambda: self.held == n, timeout):
                raise AssertionError("upstream holds %d requests, want %d" % (self.held, n))

    def last(self):
        with self.lock:
            return self.requests[-1] if self.requests else None

    def count(self):
        with self.lock:
            return len(self.requests)

    def conns(self):
        """Connection numbers the recorded requests came on, in order."""
        with self.lock:
            return [r["conn"] for r in self.requests]

    def stop(self):
        with self.cond:
            self.stopping = True
            self.cond.notify_all()
        self.httpd.shutdown()
        self.httpd.server_close()


def closed_port():
    """A loopback port nobody listens on (connection refused)."""
    return free_port()
