"""Processes, ports and waiting: the plumbing every e2e test shares.

Every process started here is registered, put in its own process group, asked
to die with the test process (PR_SET_PDEATHSIG) and killed at exit, so a
failing or interrupted test leaves nothing running. Output goes to files in
one temp dir per test run; on failure `dump_logs()` prints their tails.
"""
import atexit
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

_RUN_DIR = None
_PROCS = []
_KEEP = os.environ.get("TG_E2E_KEEP") == "1"


def run_dir():
    """One temp dir per test process for data, configs and logs."""
    global _RUN_DIR
    if _RUN_DIR is None:
        _RUN_DIR = tempfile.mkdtemp(prefix="tg-e2e-")
    return _RUN_DIR


def subdir(name):
    d = os.path.join(run_dir(), name)
    n = 1
    while os.path.exists(d):
        n += 1
        d = os.path.join(run_dir(), "%s.%d" % (name, n))
    os.makedirs(d)
    return d


_used_ports = set()


def free_port():
    """A TCP port free on 127.0.0.1 (bound then released; never handed out twice)."""
    for _ in range(100):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        if port not in _used_ports:
            _used_ports.add(port)
            return port
    raise RuntimeError("no free port")


def _pdeathsig():
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass
    os.setsid()


class Proc:
    """A child process with stdout/stderr captured to <name>.log."""

    def __init__(self, name, argv, env=None, cwd=None):
        self.name = name
        self.argv = [str(a) for a in argv]
        self.log_path = os.path.join(run_dir(), "%s-%d.log" % (name, len(_PROCS)))
        self._log = open(self.log_path, "wb")
        self._log.write(("$ " + " ".join(self.argv) + "\n").encode())
        self._log.flush()
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        self.p = subprocess.Popen(self.argv, stdout=self._log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, env=full_env, cwd=cwd,
                                  preexec_fn=_pdeathsig)
        self.pid = self.p.pid
        self.min_stop_timeout = 0  # e.g. under valgrind: its exit-time leak check takes a while
        _PROCS.append(self)

    def alive(self):
        return self.p.poll() is None

    def returncode(self):
        return self.p.poll()

    def signal(self, sig):
        if self.alive():
            os.kill(self.pid, sig)

    def wait(self, timeout):
        try:
            return self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout=5.0):
        """SIGTERM, then SIGKILL the whole group after `timeout`. Returns the exit code."""
        timeout = max(timeout, self.min_stop_timeout)
        if self.alive():
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            if self.wait(timeout) is None:
                try:
                    os.killpg(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.p.wait(5)
        try:  # children of the group, if any
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self._log.close()
        return self.p.returncode

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_count(self, needle):
        """How often `needle` occurs in the log so far: wait for it to grow
        (an event the process reports) rather than for a time."""
        return self.log().count(needle)

    def rss_kib(self):
        """VmRSS of the process in KiB (from /proc/PID/status)."""
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise RuntimeError("no VmRSS for pid %d" % self.pid)

    def open_fds(self):
        return len(os.listdir("/proc/%d/fd" % self.pid))


def dump_logs(tail=80, out=sys.stderr):
    for p in _PROCS:
        lines = p.log().splitlines()
        out.write("\n----- log of %s (pid %d, exit %s): %s -----\n"
                  % (p.name, p.pid, p.returncode(), p.log_path))
        if len(lines) > tail:
            out.write("... (%d lines cut)\n" % (len(lines) - tail))
        out.write("\n".join(lines[-tail:]) + "\n")
    out.flush()


def cleanup(keep_dir=False):
    for p in reversed(_PROCS):
        try:
            p.stop(timeout=3)
        except Exception:
            pass
    if _RUN_DIR and not keep_dir and not _KEEP:
        shutil.rmtree(_RUN_DIR, ignore_errors=True)


atexit.register(lambda: cleanup(keep_dir=True) if _KEEP else None)


def _on_signal(signum, frame):
    cleanup()
    sys.exit(128 + signum)


for _s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    try:
        signal.signal(_s, _on_signal)
    except ValueError:  # not the main thread
        pass


def wait_until(pred, timeout, what, interval=0.05, proc=None):
    """Poll `pred()` until truthy; fail with `what` (and the proc's log) on timeout
    or when `proc` exits first."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while time.monotonic() < deadline:
        if proc is not None and not proc.alive():
            raise RuntimeError("%s: process %s exited with %s before it was ready; log:\n%s"
                               % (what, proc.name, proc.returncode(), proc.log()[-4000:]))
        try:
            v = pred()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - readiness probes fail in many ways
            last_exc = e
        time.sleep(interval)
    raise TimeoutError("timed out after %.1fs waiting for %s (last error: %r)%s"
                       % (timeout, what, last_exc,
                          ("; log of %s:\n%s" % (proc.name, proc.log()[-4000:])) if proc else ""))


def http_ok(url, timeout=1.0, context=None):
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as r:
            return 200 <= r.status < 300
    except urllib.error.HTTPError:
        return False


def wait_port(host, port, timeout=10, proc=None):
    def probe():
        with socket.create_connection((host, port), timeout=0.5):
            return True
    return wait_until(probe, timeout, "port %s:%d" % (host, port), proc=proc)


def read_json(path):
    with open(path) as f:
        return json.load(f)
