-- Headless Neovim session for tests/editors/test_nvim.py: the cursor goes to a line in normal mode and rests
-- there, as after a jump; then a completion is asked for at that line and at another one the cursor never
-- visited. Writes the share of each prompt the server found in its KV cache as JSON to $SMALLCODER_OUT.
local env = vim.env
local s = dofile(vim.fs.dirname(debug.getinfo(1, "S").source:sub(2)) .. "/session.lua")
local out, step = s.out, s.step
local rested, elsewhere = tonumber(env.SMALLCODER_RESTED), tonumber(env.SMALLCODER_ELSEWHERE)
local WARM_UP_MS = 6000 -- a background prefill of ~1,000 tokens takes about 1.5 s on a slow 2-core machine

vim.opt.runtimepath:prepend(env.SMALLCODER_PLUGIN)
vim.cmd("filetype on")
require("smallcoder").setup({ cmd = vim.json.decode(env.SMALLCODER_CMD), settings = { logLevel = "debug" } })

-- Record what the plugin sends.
out.sent = {}
local warm = require("smallcoder.warm")
local send = warm.send
warm.send = function(bufnr, notify, encoding)
  local function recording(method, params)
    table.insert(out.sent, params.position)
    return notify(method, params)
  end
  return send(bufnr, recording, encoding)
end

vim.cmd.edit(env.SMALLCODER_FILE)

-- An invoked request at the end of 0-based `line` (answered when finished); then `next` with the share of its
-- prompt the server found in its KV cache. Asynchronous, so that the session keeps running while the server
-- works (an invoked request on this file takes several seconds).
local function reuse_at(c, line, next)
  local text = vim.api.nvim_buf_get_lines(0, line, line + 1, false)[1]
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(0) },
    position = { line = line, character = #text },
    context = { triggerKind = 1 },
  }
  local answered = false
  c:request("textDocument/inlineCompletion", params, function()
    answered = true
  end, 0)
  s.when("the completion at line " .. line, function()
    return answered
  end, function()
    c:request("smallcoder/status", {}, s.fail_on_error(function(_, status)
      local stats = assert(status.lastCompletion, "no completion figures")
      next(stats.reused_tokens / stats.prompt_tokens)
    end), 0)
  end, 60000)
end

s.when_ready(function(c)
  vim.defer_fn(s.fail_on_error(function() -- the warm-up on open (the end of the file) is done
    vim.api.nvim_win_set_cursor(0, { rested + 1, 4 })
    step("moved")
    vim.defer_fn(s.fail_on_error(function()
      reuse_at(c, rested, function(share)
        out.rested = share
        reuse_at(c, elsewhere, function(other)
          out.elsewhere = other
          s.finish(nil)
        end)
      end)
    end), WARM_UP_MS)
  end), WARM_UP_MS)
end)
