-- (e) SCIM read: GET {SCIM_BASE}/Users/{id}, each thread cycling over its
-- share of IDS_FILE.
-- Env: SCIM_BASE, SCIM_TOKEN, IDS_FILE.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local lib = dofile(here .. "lib.lua")
lib.install()

local base, headers, ids
local position = 0

function init(args)
  base = lib.scim_base()
  headers = lib.scim_headers()
  ids = lib.load_ids()
end

function request()
  position = position % #ids + 1
  return wrk.format("GET", base .. "/Users/" .. ids[position].id, headers)
end
