-- Bare Flask ceiling, one indexed SELECT: GET {BARE_SELECT_PATH}?u=<name>
-- with the name drawn from the seeded range, like scim_filter.lua.
-- Env: BARE_SELECT_PATH ("/select"), SEED_FIRST (1), SEED_COUNT (1000),
--      USERNAME_FORMAT ("user%d@acme.com"), BENCH_SEED.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local lib = dofile(here .. "lib.lua")
lib.install()

local path, first, count, format

function init(args)
  path = lib.env("BARE_SELECT_PATH", "/select")
  first = lib.env_int("SEED_FIRST", 1)
  count = lib.env_int("SEED_COUNT", 1000)
  format = lib.env("USERNAME_FORMAT", "user%d@acme.com")
  math.randomseed(lib.env_int("BENCH_SEED", os.time()) + 7919 * lib.thread_id())
end

function request()
  local n = first + math.random(0, count - 1)
  return wrk.format("GET", path .. "?u=" .. lib.urlencode(string.format(format, n)))
end
