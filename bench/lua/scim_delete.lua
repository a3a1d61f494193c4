-- (f) SCIM delete: DELETE {SCIM_BASE}/Users/{id}, each id of IDS_FILE once
-- per thread share. A thread that has sent its whole share goes round again
-- and its repeats are answered 404 (counters ids_exhausted, once per thread,
-- and repeat_delete, per request), which the runner reports as errors: seed
-- more ids than the duration can delete.
-- It does not stop the thread instead: wrk would keep dividing by the full
-- duration, and the stopped thread's idle connections would block gunicorn's
-- sync workers for the threads still running.
-- Env: SCIM_BASE, SCIM_TOKEN, IDS_FILE.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local lib = dofile(here .. "lib.lua")
lib.install()

local base, headers, ids
local position, exhausted = 0, false

function init(args)
  base = lib.scim_base()
  headers = lib.scim_headers()
  ids = lib.load_ids()
end

function request()
  position = position + 1
  if position > #ids then
    position = 1
    if not exhausted then
      exhausted = true
      lib.count("ids_exhausted")
    end
  end
  if exhausted then
    lib.count("repeat_delete")
  end
  return wrk.format("DELETE", base .. "/Users/" .. ids[position].id, headers)
end
