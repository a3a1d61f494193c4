-- (c) SCIM PATCH, JumpCloud's deactivation:
--   PATCH {SCIM_BASE}/Users/{id}
--   {"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
--    "Operations":[{"op":"replace","path":"active","value":false}]}
-- Ids come from IDS_FILE (one per line); each thread cycles over its own
-- share. PATCH_TOGGLE=1 alternates false/true on each visit of an id, so a
-- server that skips no-op writes still writes on every request.
-- Env: SCIM_BASE, SCIM_TOKEN, IDS_FILE, PATCH_TOGGLE (0).
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local lib = dofile(here .. "lib.lua")
lib.install()

local base, headers, ids, toggle
local position, round = 0, 0

local function patch_body(value)
  return lib.json({
    schemas = { "urn:ietf:params:scim:api:messages:2.0:PatchOp" },
    Operations = { { op = "replace", path = "active", value = value } },
  })
end

local bodies = { [false] = patch_body(false), [true] = patch_body(true) }

function init(args)
  base = lib.scim_base()
  headers = lib.scim_headers()
  ids = lib.load_ids()
  toggle = lib.env_bool("PATCH_TOGGLE", false)
end

function request()
  position = position + 1
  if position > #ids then
    position, round = 1, round + 1
  end
  local value = toggle and (round % 2 == 1) or false
  return wrk.format("PATCH", base .. "/Users/" .. ids[position].id, headers, bodies[value])
end
