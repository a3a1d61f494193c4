-- (b) SCIM create: POST {SCIM_BASE}/Users with a JumpCloud-shaped user
-- (schemas, userName, work email = userName, displayName, name.givenName /
-- familyName, title, active, enterprise department / employeeNumber).
-- userName is "<CREATE_PREFIX>-<BENCH_RUN_ID>-t<thread>-<counter>@<SCIM_USER_DOMAIN>",
-- so threads never collide and reruns against the same database do not
-- either (loadgen sets a fresh BENCH_RUN_ID per run).
-- Env: SCIM_BASE, SCIM_TOKEN, CREATE_PREFIX ("bench"), BENCH_RUN_ID,
--      SCIM_USER_DOMAIN ("acme.com"), SCIM_ENTERPRISE (1).
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local lib = dofile(here .. "lib.lua")
lib.install()

local base, headers, prefix, run, domain, tid
local counter = 0

function init(args)
  base = lib.scim_base()
  headers = lib.scim_headers()
  prefix = lib.env("CREATE_PREFIX", "bench")
  run = lib.env("BENCH_RUN_ID", tostring(os.time()))
  domain = lib.env("SCIM_USER_DOMAIN", "acme.com")
  tid = lib.thread_id()
end

function request()
  counter = counter + 1
  local name = string.format("%s-%s-t%d-%d@%s", prefix, run, tid, counter, domain)
  -- employeeNumber is unique per organization in the app: carry the run id
  -- too, so the warm-up and the measured run never reuse one.
  local n = tid * 1000000 + counter
  local body = lib.json(lib.scim_user(name, n, nil, string.format("%s-%d", run, n)))
  return wrk.format("POST", base .. "/Users", headers, body)
end
