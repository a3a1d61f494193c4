-- Bare Flask ceiling, one INSERT + commit: POST {BARE_INSERT_PATH} with a
-- unique value per request ("<prefix>-<run>-t<thread>-<counter>@acme.com").
-- Env: BARE_INSERT_PATH ("/insert"), CREATE_PREFIX ("bench"), BENCH_RUN_ID.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local lib = dofile(here .. "lib.lua")
lib.install()

local path, prefix, run, tid, headers
local counter = 0

function init(args)
  path = lib.env("BARE_INSERT_PATH", "/insert")
  prefix = lib.env("CREATE_PREFIX", "bench")
  run = lib.env("BENCH_RUN_ID", tostring(os.time()))
  tid = lib.thread_id()
  headers = { ["Content-Type"] = "application/json" }
  for k, v in pairs(wrk.headers) do
    headers[k] = v
  end
end

function request()
  counter = counter + 1
  local value = string.format("%s-%s-t%d-%d@acme.com", prefix, run, tid, counter)
  return wrk.format("POST", path, headers, lib.json({ u = value, payload = "Engineering" }))
end
