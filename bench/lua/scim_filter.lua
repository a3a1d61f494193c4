-- (a) SCIM filter lookup, the call JumpCloud makes before every create:
--   GET {SCIM_BASE}/Users?filter=userName eq "<USERNAME_FORMAT % N>"
-- with N drawn uniformly from the pre-seeded range
-- [SEED_FIRST, SEED_FIRST + SEED_COUNT - 1].
-- Env: SCIM_BASE, SCIM_TOKEN, SEED_FIRST (1), SEED_COUNT (1000),
--      USERNAME_FORMAT ("user%d@acme.com"), BENCH_SEED (random seed).
-- Counter lookup_miss: 200 responses whose totalResults is not 1, i.e. the
-- seed and the range disagree.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local lib = dofile(here .. "lib.lua")
lib.install()

local base, headers, first, count, format

function init(args)
  base = lib.scim_base()
  headers = lib.scim_headers()
  first = lib.env_int("SEED_FIRST", 1)
  count = lib.env_int("SEED_COUNT", 1000)
  format = lib.env("USERNAME_FORMAT", "user%d@acme.com")
  -- Each thread gets its own sequence so threads do not ask the same names.
  math.randomseed(lib.env_int("BENCH_SEED", os.time()) + 7919 * lib.thread_id())
  lib.on_response = function(status, _, body)
    if status == 200 and not body:find('"totalResults"%s*:%s*1[^%d]') then
      lib.count("lookup_miss")
    end
  end
end

function request()
  local n = first + math.random(0, count - 1)
  local filter = string.format('userName eq "%s"', string.format(format, n))
  return wrk.format("GET", base .. "/Users?filter=" .. lib.urlencode(filter), headers)
end
