"""Per-function instructions per request from the last `run.sh instr` (build-rel/bench-out/instr.json):
    python3 test/bench/callgrind_groups.py     (after TG_BENCH_BASE_BIN=<main> test/bench/run.sh instr)"""
import json, re, subprocess, sys
j = json.load(open("build-rel/bench-out/instr.json"))
fns = ["tg_http_framing_feed", "tg_stage_route", "tg_params_parse", "unescape", "tg_stage_authn",
       "tg_auth_sha256", "tg_auth_token_lookup_digest", "tg_stage_authz", "tg_stage_enforce",
       "tg_promql_enforce_query_ex", "tg_sb_add_urlencoded", "tg_stage_upstream", "tg_up_send",
       "tg_up_parse_head", "on_read", "on_head", "on_body", "tg_req_end", "tg_server_request_done",
       "evhttp_parse_firstline_", "evhttp_parse_headers_", "evhttp_send_reply_start",
       "evhttp_request_free", "malloc", "free", "calloc", "_int_malloc", "_int_free", "event_add", "event_del",
       "tg_server_run"]
rows = {}
for b in ("base", "new"):
    f, n = j[b]["file"], j[b]["requests"]
    inc = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", f], capture_output=True, text=True).stdout
    exc = subprocess.run(["callgrind_annotate", "--threshold=100", f], capture_output=True, text=True).stdout
    for kind, txt in (("inc", inc), ("exc", exc)):
        for line in txt.splitlines():
            m = re.match(r"\s*([\d,]+) \([^)]*\)\s+\S*?:(\S+) \[", line)
            if m and m.group(2) in fns:
                rows.setdefault(m.group(2), {})[(b, kind)] = int(m.group(1).replace(",", "")) / n
print("| function | base incl | base excl | new incl | new excl |")
print("|---|---:|---:|---:|---:|")
for fn in fns:
    r = rows.get(fn, {})
    print("| `%s` | %s |" % (fn, " | ".join("%.0f" % r[k] if k in r else "-" for k in
          (("base","inc"),("base","exc"),("new","inc"),("new","exc")))))
