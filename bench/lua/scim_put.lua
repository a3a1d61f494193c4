-- (d) SCIM replace: PUT {SCIM_BASE}/Users/{id} with the full JumpCloud-shaped
-- user. The userName is kept from IDS_FILE's second column (tab-separated)
-- so a replace never renames; without it the name is "put-<id>@<domain>",
-- unique per id. The title changes on every request so each PUT is a write.
-- Env: SCIM_BASE, SCIM_TOKEN, IDS_FILE, SCIM_USER_DOMAIN ("acme.com"),
--      SCIM_ENTERPRISE (1).
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local lib = dofile(here .. "lib.lua")
lib.install()

local base, headers, ids, domain
local position, counter = 0, 0

function init(args)
  base = lib.scim_base()
  headers = lib.scim_headers()
  ids = lib.load_ids()
  domain = lib.env("SCIM_USER_DOMAIN", "acme.com")
end

function request()
  position = position % #ids + 1
  counter = counter + 1
  local entry = ids[position]
  local name = entry.user_name or ("put-" .. entry.id .. "@" .. domain)
  -- employeeNumber is unique per organization in the app: one per id, the
  -- same on every visit, so a replace never collides with another user's.
  local user = lib.scim_user(name, position, "Engineer " .. counter, "put-" .. entry.id)
  return wrk.format("PUT", base .. "/Users/" .. entry.id, headers, lib.json(user))
end
