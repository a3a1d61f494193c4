-- Shared helpers of the bench wrk scripts.
--
-- Each script loads this file with dofile() from its own folder, in the main
-- Lua state (setup/done) and in each thread's state (init/request/response):
-- wrk gives every thread an independent Lua state, so nothing here is shared
-- between threads except through thread:get()/thread:set().
--
-- install() defines the globals setup(), response() and done(). done() prints
-- one line "BENCHJSON {...}" that bench/loadgen.py parses: exact latency
-- percentiles from wrk's own histogram, status-code counts tracked in
-- response(), and named counters the scripts bump.

local M = {}

-- Environment -------------------------------------------------------------

function M.env(name, default)
  local value = os.getenv(name)
  if value == nil or value == "" then
    return default
  end
  return value
end

function M.env_int(name, default)
  local value = M.env(name, nil)
  if value == nil then
    return default
  end
  local number = tonumber(value)
  if number == nil then
    error(name .. " must be a number, got " .. value)
  end
  return math.floor(number)
end

function M.env_bool(name, default)
  local value = M.env(name, nil)
  if value == nil then
    return default
  end
  value = value:lower()
  return not (value == "0" or value == "false" or value == "no" or value == "off")
end

-- JSON --------------------------------------------------------------------

local escapes = {
  ['"'] = '\\"', ['\\'] = '\\\\', ['\b'] = '\\b', ['\f'] = '\\f',
  ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t',
}

local function encode_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return escapes[c] or string.format("\\u%04x", c:byte())
  end) .. '"'
end

-- A table whose keys are exactly 1..n is a JSON array; any other non-empty
-- table is an object. Object keys are sorted so the output is stable.
local function is_array(t)
  local n = #t
  if n == 0 then
    return false
  end
  local count = 0
  for _ in pairs(t) do
    count = count + 1
  end
  return count == n
end

function M.json(value)
  local kind = type(value)
  if kind == "nil" then
    return "null"
  elseif kind == "boolean" then
    return value and "true" or "false"
  elseif kind == "number" then
    if value ~= value or value == math.huge or value == -math.huge then
      return "null"
    end
    if value == math.floor(value) and math.abs(value) < 2 ^ 53 then
      return string.format("%d", value)
    end
    return string.format("%.17g", value)
  elseif kind == "string" then
    return encode_string(value)
  elseif kind == "table" then
    local parts = {}
    if is_array(value) then
      for i = 1, #value do
        parts[i] = M.json(value[i])
      end
      return "[" .. table.concat(parts, ",") .. "]"
    end
    local keys = {}
    for k in pairs(value) do
      keys[#keys + 1] = tostring(k)
    end
    table.sort(keys)
    for i, k in ipairs(keys) do
      local v = value[k]
      if v == nil then
        v = value[tonumber(k)]
      end
      parts[i] = encode_string(k) .. ":" .. M.json(v)
    end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  error("cannot encode a " .. kind .. " as JSON")
end

-- URLs --------------------------------------------------------------------

function M.urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c)
    return string.format("%%%02X", c:byte())
  end))
end

-- Per-thread state ----------------------------------------------------------

-- The global that done() reads back from each thread with thread:get().
-- It must stay flat (string keys, number values): wrk 4.1's table copy
-- between Lua states corrupts the stack on nested tables and segfaults.
-- Keys are "status:<code>" and "counter:<name>".
bench_stats = {}

local function bump(key, n)
  bench_stats[key] = (bench_stats[key] or 0) + n
end

function M.count(name, n)
  bump("counter:" .. name, n or 1)
end

-- The thread's index (0-based) and the thread count, so scripts can split a
-- list of ids between threads and build names that never collide. setup()
-- sets bench_tid; the count comes from loadgen (BENCH_THREADS) because wrk
-- calls init() of a thread before later threads even exist.
function M.thread_id()
  return bench_tid or 0
end

function M.thread_count()
  return M.env_int("BENCH_THREADS", 1)
end

-- Headers of every SCIM request; wrk.headers already holds Host (with port)
-- and any -H flags once init() runs.
function M.scim_headers()
  local headers = {}
  for k, v in pairs(wrk.headers) do
    headers[k] = v
  end
  headers["Accept"] = M.env("SCIM_ACCEPT", "application/scim+json")
  headers["Content-Type"] = M.env("SCIM_CONTENT_TYPE", "application/scim+json")
  local token = M.env("SCIM_TOKEN", nil)
  if token ~= nil then
    headers["Authorization"] = "Bearer " .. token
  end
  return headers
end

-- SCIM_BASE without its trailing slash, so scripts append "/Users".
function M.scim_base()
  local base = M.env("SCIM_BASE", "/scim/v2")
  return (base:gsub("/+$", ""))
end

-- Reads IDS_FILE: one resource id per line, optionally followed by a tab and
-- the userName (the PUT script keeps it so a replace does not rename).
-- Returns only this thread's share (every thread_count()-th line) so no two
-- threads ever touch the same id. A thread left without ids is a setup
-- mistake (fewer ids than threads), so it fails loudly instead of idling:
-- a stopped wrk thread leaves connected sockets that block gunicorn's sync
-- workers for the other threads.
function M.load_ids(path)
  path = path or M.env("IDS_FILE", nil)
  if path == nil then
    error("IDS_FILE is not set")
  end
  local file, err = io.open(path, "r")
  if file == nil then
    error("cannot open IDS_FILE: " .. tostring(err))
  end
  local tid, threads = M.thread_id(), M.thread_count()
  local entries, index = {}, 0
  for line in file:lines() do
    local id, user_name = line:match("^%s*([^%s]+)%s*([^%s]*)%s*$")
    if id ~= nil then
      if index % threads == tid then
        entries[#entries + 1] = { id = id, user_name = user_name ~= "" and user_name or nil }
      end
      index = index + 1
    end
  end
  file:close()
  if #entries == 0 then
    error(string.format("IDS_FILE %s holds no ids for thread %d of %d", path, tid, threads))
  end
  return entries
end

-- JumpCloud-shaped SCIM user. Scripts pass the varying parts; SCIM_ENTERPRISE=0
-- drops the enterprise extension for servers that do not declare it.
function M.scim_user(user_name, n, extra_title, employee_number)
  local given = "Bench"
  local family = string.format("User%d", n)
  local schemas = { "urn:ietf:params:scim:schemas:core:2.0:User" }
  local user = {
    userName = user_name,
    displayName = given .. " " .. family,
    name = { givenName = given, familyName = family },
    title = extra_title or "Engineer",
    active = true,
    emails = { { value = user_name, type = "work", primary = true } },
  }
  if M.env_bool("SCIM_ENTERPRISE", true) then
    local ext = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    schemas[#schemas + 1] = ext
    user[ext] = { department = "Engineering", employeeNumber = employee_number or tostring(n) }
  end
  user.schemas = schemas
  return user
end

-- Hooks -------------------------------------------------------------------

local threads = {}

local function setup(thread)
  thread:set("bench_tid", #threads)
  threads[#threads + 1] = thread
end

-- Scripts may set M.on_response(status, headers, body) to check bodies.
M.on_response = nil

local function response(status, headers, body)
  bump("status:" .. status, 1)
  if M.on_response ~= nil then
    M.on_response(status, headers, body)
  end
end

local function done(summary, latency, requests)
  local statuses, counters = {}, {}
  for _, thread in ipairs(threads) do
    local stats = thread:get("bench_stats")
    if stats ~= nil then
      for key, n in pairs(stats) do
        local code = key:match("^status:(.*)$")
        local name = key:match("^counter:(.*)$")
        if code ~= nil then
          statuses[code] = (statuses[code] or 0) + n
        elseif name ~= nil then
          counters[name] = (counters[name] or 0) + n
        end
      end
    end
  end
  local result = {
    requests = summary.requests,
    duration_us = summary.duration,
    bytes = summary.bytes,
    errors = {
      connect = summary.errors.connect,
      read = summary.errors.read,
      write = summary.errors.write,
      status = summary.errors.status,
      timeout = summary.errors.timeout,
    },
    latency_us = {
      min = latency.min,
      max = latency.max,
      mean = latency.mean,
      stdev = latency.stdev,
      p50 = latency:percentile(50),
      p90 = latency:percentile(90),
      p99 = latency:percentile(99),
      p999 = latency:percentile(99.9),
    },
    status = statuses,
    counters = counters,
  }
  io.write("BENCHJSON ", M.json(result), "\n")
end

function M.install()
  _G.setup = setup
  _G.response = response
  _G.done = done
end

return M
