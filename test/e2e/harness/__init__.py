"""Shared code for tenantgate's end-to-end tests (stdlib only).

    from harness import main, proc, tg, prom, fake_upstream, datagen
    ...
    if __name__ == "__main__":
        main()
"""
import os
import sys
import unittest

from . import proc  # noqa: F401  (registers cleanup handlers)


def main():
    """unittest.main() that prints the captured process logs when something failed,
    always stops every process it started, and exits non-zero on failure."""
    verbosity = 2
    prog = unittest.TestProgram(module="__main__", exit=False, verbosity=verbosity,
                                argv=sys.argv)
    result = prog.result
    ok = result.wasSuccessful() and result.testsRun > 0
    if not ok:
        proc.dump_logs()
        sys.stderr.write("\nlogs and data kept in %s\n" % proc.run_dir())
    proc.cleanup(keep_dir=not ok)
    sys.exit(0 if ok else 1)


def check_error(tc, resp, status, error_type=None, contains=None):
    """Assert a Prometheus-style JSON error with this HTTP status."""
    tc.assertEqual(resp.status, status, "want HTTP %d, got %r" % (status, resp))
    ctype = (resp.header("Content-Type") or "").split(";")[0].strip()
    tc.assertEqual(ctype, "application/json", "error Content-Type: %r" % resp)
    j = resp.json()
    tc.assertEqual(j.get("status"), "error", j)
    tc.assertIsInstance(j.get("error"), str, j)
    tc.assertTrue(j.get("error"), j)
    tc.assertIsInstance(j.get("errorType"), str, j)
    if error_type is not None:
        tc.assertEqual(j["errorType"], error_type, j)
    if contains is not None:
        tc.assertIn(contains, j["error"], j)
    return j


def check_success(tc, resp):
    tc.assertEqual(resp.status, 200, resp)
    j = resp.json()
    tc.assertEqual(j.get("status"), "success", j)
    return j


TG_SOURCE_DIR = os.environ.get("TG_SOURCE_DIR",
                               os.path.abspath(os.path.join(os.path.dirname(__file__), "../../..")))


def check_am_error(tc, resp, status, contains=None, code=None):
    """Assert an Alertmanager-style error: a JSON string for 400 (the API's BadRequest),
    else go-openapi's {"code": N, "message": "..."}. Returns the message."""
    tc.assertEqual(resp.status, status, "want HTTP %d, got %r" % (status, resp))
    ctype = (resp.header("Content-Type") or "").split(";")[0].strip()
    tc.assertEqual(ctype, "application/json", "error Content-Type: %r" % resp)
    j = resp.json()
    if isinstance(j, str):
        tc.assertIsNone(code, "want an object with code %s, got the string %r" % (code, j))
        msg = j
    else:
        tc.assertIsInstance(j, dict, j)
        tc.assertEqual(sorted(j), ["code", "message"], j)
        tc.assertEqual(j["code"], code if code is not None else status, j)
        msg = j["message"]
    tc.assertTrue(msg, j)
    if contains is not None:
        tc.assertIn(contains, msg, j)
    return msg
