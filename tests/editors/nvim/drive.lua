-- Headless Neovim session for tests/editors/test_nvim.py: sets the plugin up as a user would, waits for the
-- model, opens the completion menu at the end of the file, accepts the item with <C-y>, and asks for inline
-- completions with a raw request. Writes what happened as JSON to $SMALLCODER_OUT, then quits.
local env = vim.env
local out = { steps = {} }
local function step(name)
  table.insert(out.steps, name)
end
local function finish(err)
  out.error = err
  out.lines = out.lines or vim.api.nvim_buf_get_lines(0, 0, -1, false)
  local f = assert(io.open(env.SMALLCODER_OUT, "w"))
  f:write(vim.json.encode(out))
  f:close()
  vim.cmd("qall!")
end
local function fail_on_error(fn)
  return function(...)
    local ok, err = pcall(fn, ...)
    if not ok then
      finish(tostring(err))
    end
  end
end

vim.opt.runtimepath:prepend(env.SMALLCODER_PLUGIN)
vim.cmd("filetype on")
vim.o.completeopt = "menu,menuone,noinsert"
require("smallcoder").setup({ cmd = vim.json.decode(env.SMALLCODER_CMD), settings = { logLevel = "debug", completion = { timeoutMs = 30000 } } })
vim.cmd.edit(env.SMALLCODER_FILE)

local function client()
  return require("smallcoder").clients()[1]
end

-- Poll `check` every 50 ms (letting typed keys run in between), then call `next` with its result.
-- The waits are generous: a busy machine can be slow, and these tests check behaviour, not speed.
local function when(what, check, next, timeout_ms)
  local deadline = vim.uv.now() + (timeout_ms or 120000)
  local function poll()
    local ok, value = pcall(check)
    if ok and value then
      return fail_on_error(next)(value)
    end
    if vim.uv.now() > deadline then
      return finish("timed out waiting for " .. what .. (ok and "" or (": " .. tostring(value))))
    end
    vim.defer_fn(poll, 50)
  end
  vim.defer_fn(poll, 50)
end

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

when("the client", client, function(c)
  step("attached")
  when("the model", function()
    local r = c:request_sync("smallcoder/status", {}, 5000, 0)
    return r and r.result and r.result.state ~= "loading" and r.result
  end, function(status)
    out.status = status
    step("status")
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
          vim.defer_fn(fail_on_error(function()
            step("accepted")
            vim.cmd.stopinsert()
            out.lines = vim.api.nvim_buf_get_lines(0, 0, -1, false)
            vim.cmd("checkhealth smallcoder")
            out.health = vim.api.nvim_buf_get_lines(0, 0, -1, false)
            finish(nil)
          end), 300)
        end, 10000)
      end, 180000)
    end, 5000)
  end)
end, 30000)
