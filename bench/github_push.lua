-- wrk script: a signed GitHub push delivery (bench/github_load.sh). The body and its X-Hub-Signature-256 come from
-- the environment (BENCH_BODY_FILE, BENCH_SIGNATURE); each request gets its own X-GitHub-Delivery, so that none is
-- answered as a duplicate.
local f = assert(io.open(os.getenv("BENCH_BODY_FILE"), "rb"))
local body = f:read("*a")
f:close()
local signature = os.getenv("BENCH_SIGNATURE")
-- Globals: setup() sets `prefix` in each thread's own Lua state (a local here would not see it).
counter = 0
prefix = ""

function setup(thread)
  counter = counter + 1
  thread:set("prefix", string.format("%04d-%d-", counter, os.time()))
end

function request()
  counter = counter + 1
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["X-GitHub-Event"] = "push",
    ["X-GitHub-Delivery"] = prefix .. counter,
    ["X-Hub-Signature-256"] = signature,
  }, body)
end
