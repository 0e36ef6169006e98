-- Headless Neovim session for tests/editors/test_nvim.py: sets the plugin up as a user would, waits for the
-- model, opens the completion menu at the end of the file, accepts the item with <C-y>, and asks for inline
-- completions with a raw request. Writes what happened as JSON to $SMALLCODER_OUT, then quits.
local env = vim.env
local s = dofile(vim.fs.dirname(debug.getinfo(1, "S").source:sub(2)) .. "/session.lua")
local out, step, when = s.out, s.step, s.when

vim.opt.runtimepath:prepend(env.SMALLCODER_PLUGIN)
vim.cmd("filetype on")
vim.o.completeopt = "menu,menuone,noinsert"
require("smallcoder").setup({ cmd = vim.json.decode(env.SMALLCODER_CMD), settings = { logLevel = "debug", completion = { timeoutMs = 30000 } } })
vim.cmd.edit(env.SMALLCODER_FILE)

local function inline_request(c)
  local last = vim.api.nvim_buf_line_count(0)
  local line = vim.api.nvim_buf_get_lines(0, last - 1, last, false)[1]
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(0) },
    position = { line = last - 1, character = #line },
    context = { triggerKind = 1 },
  }
  local response = c:request_sync("textDocument/inlineCompletion", params, 60000, 0)
  out.inline = response and response.result
  out.inline_error = response and response.err
  step("inline")
end

s.when_ready(function(c)
  inline_request(c)
  -- Insert mode at the end of the last line, then ask for the menu as <C-x><C-o> would.
  vim.api.nvim_win_set_cursor(0, { vim.api.nvim_buf_line_count(0), 0 })
  vim.api.nvim_feedkeys("A", "n", false)
  when("insert mode", function()
    return vim.api.nvim_get_mode().mode == "i"
  end, function()
    vim.lsp.completion.get()
    when("the completion menu", function()
      return vim.fn.pumvisible() == 1
    end, function()
      out.menu = vim.fn.complete_info({ "items", "selected" })
      step("menu")
      vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes("<C-y>", true, false, true), "n", false)
      when("the accepted item", function()
        return vim.fn.pumvisible() == 0 and vim.v.completed_item.word ~= nil
      end, function()
        vim.defer_fn(s.fail_on_error(function()
          step("accepted")
          vim.cmd.stopinsert()
          out.lines = vim.api.nvim_buf_get_lines(0, 0, -1, false)
          vim.cmd("checkhealth smallcoder")
          out.health = vim.api.nvim_buf_get_lines(0, 0, -1, false)
          s.finish(nil)
        end), 300)
      end, 10000)
    end, 180000)
  end, 5000)
end)
