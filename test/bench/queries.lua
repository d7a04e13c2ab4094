-- wrk script: rotate through PromQL queries as GET /api/v1/query requests.
--   TG_BENCH_QUERIES  file, one query per line, "\n" (two characters) = newline
--   TG_BENCH_TOKEN    bearer token (default alice-token)
--   TG_BENCH_NS       tenant, sent as ?namespace= (default alpha)
-- Prints one line "WRKJSON {...}" with the totals and latency percentiles (us).
local file = os.getenv("TG_BENCH_QUERIES") or "test/data/corpus/queries.txt"
local token = os.getenv("TG_BENCH_TOKEN") or "alice-token"
local ns = os.getenv("TG_BENCH_NS") or "alpha"
local reqs = {}
local i = 0

local function enc(s)
  return (s:gsub("[^%w%-_%.~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function init(args)
  local hdr = { ["Authorization"] = "Bearer " .. token }
  for line in io.lines(file) do
    if #line > 0 then
      local q = (line:gsub("\\n", "\n"))
      reqs[#reqs + 1] = wrk.format("GET", "/api/v1/query?query=" .. enc(q) .. "&namespace=" .. ns, hdr)
    end
  end
  -- threads start at different places in the corpus
  i = math.random(#reqs) - 1
end

function request()
  i = i % #reqs + 1
  return reqs[i]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
