-- Bare Flask ceiling, JSON round trip: POST {BARE_ECHO_PATH} with a
-- JumpCloud-sized user document. The request is built once (static).
-- Env: BARE_ECHO_PATH ("/echo").
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local lib = dofile(here .. "lib.lua")
lib.install()

function init(args)
  wrk.method = "POST"
  wrk.path = lib.env("BARE_ECHO_PATH", "/echo")
  wrk.headers["Content-Type"] = "application/json"
  wrk.body = lib.json(lib.scim_user("echo@acme.com", 1))
end
