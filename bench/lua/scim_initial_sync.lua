-- (g) An identity provider's initial push: for each user, a lookup by userName,
-- then a create once a lookup has answered "not found" (totalResults 0).
--   GET  {SCIM_BASE}/Users?filter=userName eq "<USERNAME_FORMAT % N>"
--   POST {SCIM_BASE}/Users  (JumpCloud-shaped user N)
-- Users SYNC_FIRST .. SYNC_FIRST + SYNC_COUNT - 1, in order. Run it with ONE wrk
-- thread (all users in one Lua state) and N connections. At the last create's
-- answer it writes the file SYNC_DONE_FILE: wrk itself runs for its whole -d, so
-- bench/initial_sync.py times the push up to that file and then stops wrk (SIGINT).
-- wrk gives response() no link to its request: a "not found" answer releases the
-- create of the oldest user looked up and not created yet, so every create follows
-- its own lookup's request and at least as many "not found" answers.
-- Counters: created (201); found (a lookup that found its user: only the "idle"
-- repeats of the last lookup at the very end, which are counted too).
-- Env: SCIM_BASE, SCIM_TOKEN, SYNC_FIRST (1), SYNC_COUNT (100000),
--      USERNAME_FORMAT ("sync%d@acme.com"), SYNC_DONE_FILE (required).
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local lib = dofile(here .. "lib.lua")
lib.install()

local base, headers, first, count, format, done_file
local looked_up, created_sent, created, released = 0, 0, 0, 0

function init(args)
  base = lib.scim_base()
  headers = lib.scim_headers()
  first = lib.env_int("SYNC_FIRST", 1)
  count = lib.env_int("SYNC_COUNT", 100000)
  format = lib.env("USERNAME_FORMAT", "sync%d@acme.com")
  done_file = lib.env("SYNC_DONE_FILE", nil)
  if done_file == nil then
    error("SYNC_DONE_FILE is not set")
  end
  if lib.thread_count() ~= 1 then
    error("scim_initial_sync.lua needs exactly one wrk thread (-t 1)")
  end
  lib.on_response = function(status, _, body)
    if status == 201 then
      created = created + 1
      lib.count("created")
      if created == count then
        local done = io.open(done_file, "w")
        done:write(tostring(created), "\n")
        done:close()
      end
    elseif status == 200 then
      if body:find('"totalResults"%s*:%s*0[^%d]') then
        released = released + 1
      else
        lib.count("found")
      end
    end
  end
end

local function lookup(n)
  local filter = string.format('userName eq "%s"', string.format(format, n))
  return wrk.format("GET", base .. "/Users?filter=" .. lib.urlencode(filter), headers)
end

function request()
  if created_sent < released and created_sent < count then
    created_sent = created_sent + 1
    local n = first + created_sent - 1
    local name = string.format(format, n)
    return wrk.format("POST", base .. "/Users", headers, lib.json(lib.scim_user(name, n)))
  end
  if looked_up < count then
    looked_up = looked_up + 1
    return lookup(first + looked_up - 1)
  end
  -- Every user is looked up and its create is waiting for an answer: ask again for
  -- the last one (a connection must send something; at most N such requests).
  lib.count("idle")
  return lookup(first + count - 1)
end
