-- Signed webhook deliveries with a fresh X-GitHub-Delivery each, for bench/intake.py.
local body_file = os.getenv("BENCH_BODY")
local signature = os.getenv("BENCH_SIGNATURE")
local f = assert(io.open(body_file, "rb"))
local body = f:read("*a")
f:close()
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("id", thread_id)
  thread_id = thread_id + 1
  table.insert(threads, thread)
end

function init(args)
  prefix = string.format("%d-%d-", os.time(), id)
end

function request()
  counter = counter + 1
  return wrk.format("POST", "/webhook", {
    ["Content-Type"] = "application/json",
    ["X-GitHub-Event"] = "issues",
    ["X-GitHub-Delivery"] = prefix .. counter,
    ["X-Hub-Signature-256"] = signature,
    ["User-Agent"] = "GitHub-Hookshot/bench",
  }, body)
end

function done(summary, latency, requests)
  io.write(string.format("RESULT %d %d %d %d %d %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), summary.errors.status, summary.errors.timeout))
end
