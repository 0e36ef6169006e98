-- What the headless Neovim test sessions (drive.lua, pause.lua) share: the result table written as JSON to
-- $SMALLCODER_OUT, named steps, polling waits, and the wait for the client and its model.
-- Use: local s = dofile(vim.fs.dirname(debug.getinfo(1, "S").source:sub(2)) .. "/session.lua")
local env = vim.env
local M = { out = { steps = {} } }
local out = M.out

function M.step(name)
  table.insert(out.steps, name)
end

-- Write the result (with `err`, if any) and quit.
function M.finish(err)
  out.error = err
  out.lines = out.lines or vim.api.nvim_buf_get_lines(0, 0, -1, false)
  local f = assert(io.open(env.SMALLCODER_OUT, "w"))
  f:write(vim.json.encode(out))
  f:close()
  vim.cmd("qall!")
end

-- `fn`, with any error it raises written as the session's result.
function M.fail_on_error(fn)
  return function(...)
    local ok, err = pcall(fn, ...)
    if not ok then
      M.finish(tostring(err))
    end
  end
end

-- Poll `check` every 10 ms (letting typed keys run in between), then call `next` with its result. The default
-- wait is generous: a busy machine can be slow, and these tests check behaviour, not speed.
function M.when(what, check, next, timeout_ms)
  local deadline = vim.uv.now() + (timeout_ms or 120000)
  local function poll()
    local ok, value = pcall(check)
    if ok and value then
      return M.fail_on_error(next)(value)
    end
    if vim.uv.now() > deadline then
      return M.finish("timed out waiting for " .. what .. (ok and "" or (": " .. tostring(value))))
    end
    vim.defer_fn(poll, 10)
  end
  vim.defer_fn(poll, 10)
end

-- Wait for the plugin's client and for its model to load (its status goes into the result), then call
-- `next(client)`.
function M.when_ready(next)
  M.when("the client", function()
    return require("smallcoder").clients()[1]
  end, function(c)
    M.step("attached")
    M.when("the model", function()
      local r = c:request_sync("smallcoder/status", {}, 5000, 0)
      return r and r.result and r.result.state ~= "loading" and r.result
    end, function(status)
      out.status = status
      M.step("status")
      next(c)
    end)
  end, 30000)
end

return M
