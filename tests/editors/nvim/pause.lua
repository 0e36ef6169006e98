-- Headless Neovim 0.11 session for tests/editors/test_nvim.py: the user types at the end of a line, ending with
-- a trigger character, and stops. The completion menu must then open with the model's item without another
-- keystroke: from the held request, or, when that was answered empty (a small completion.holdMs), from the
-- plugin asking again on `smallcoder/suggestionReady`. Writes what happened as JSON to $SMALLCODER_OUT.
local env = vim.env
local s = dofile(vim.fs.dirname(debug.getinfo(1, "S").source:sub(2)) .. "/session.lua")
local out, step, when = s.out, s.step, s.when
out.pushes = {}

vim.opt.runtimepath:prepend(env.SMALLCODER_PLUGIN)
vim.cmd("filetype on")
vim.o.completeopt = "menu,menuone,noinsert"
local settings = { logLevel = "debug", completion = vim.json.decode(env.SMALLCODER_COMPLETION) }
require("smallcoder").setup({ cmd = vim.json.decode(env.SMALLCODER_CMD), settings = settings })

-- Record every notification the plugin acts on, and what it did.
local ready = require("smallcoder.ready")
local act = ready.act
ready.act = function(params, ...)
  local done, why = act(params, ...)
  table.insert(out.pushes, { params = params, done = done or vim.NIL, why = why or vim.NIL, ms = vim.uv.now() })
  return done, why
end

vim.cmd.edit(env.SMALLCODER_FILE)

s.when_ready(function()
  vim.api.nvim_win_set_cursor(0, { vim.api.nvim_buf_line_count(0), 0 })
  vim.api.nvim_feedkeys("A", "n", false)
  when("insert mode", function()
    return vim.api.nvim_get_mode().mode == "i"
  end, function()
    -- One burst of typed keys (as "t"yped, so InsertCharPre fires), then nothing more.
    vim.api.nvim_feedkeys(env.SMALLCODER_TYPED, "nt", false)
    when("the typed text", function()
      return vim.api.nvim_get_current_line():sub(-#env.SMALLCODER_TYPED) == env.SMALLCODER_TYPED
    end, function()
      out.typed_at = vim.uv.now()
      step("typed")
      when("the completion menu", function()
        return vim.fn.pumvisible() == 1
      end, function()
        out.menu_after_ms = vim.uv.now() - out.typed_at
        out.menu = vim.fn.complete_info({ "items", "selected" })
        out.mode = vim.api.nvim_get_mode().mode
        step("menu")
        s.finish(nil)
      end, 120000)
    end, 5000)
  end, 5000)
end)
