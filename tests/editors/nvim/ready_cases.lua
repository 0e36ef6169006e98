-- Headless Neovim script for tests/editors/test_nvim.py: calls the plugin's `smallcoder/suggestionReady` logic
-- (smallcoder.ready.act) with notifications that match the buffer and cursor or not, with the editor's UI calls
-- replaced by recorders. No server: this checks when the plugin asks again, and how.
-- Writes {case = {done, why, calls}} as JSON to $SMALLCODER_OUT, then quits.
local env = vim.env
vim.opt.runtimepath:prepend(env.SMALLCODER_PLUGIN)
local ready = require("smallcoder.ready")
local options = require("smallcoder.config").resolve({})

local results, calls = {}, {}
--- A stand-in that records its call; `pick` turns its arguments into what is recorded.
local function record(name, pick)
  return function(...)
    table.insert(calls, { name, pick(...) })
  end
end

local function finish(err)
  results.error = err
  local f = assert(io.open(env.SMALLCODER_OUT, "w"))
  f:write(vim.json.encode(results))
  f:close()
  vim.cmd("qall!")
end

-- A buffer whose first line has an emoji: its end is character 8 in UTF-16, 10 in UTF-8.
local bufnr = vim.api.nvim_get_current_buf()
vim.api.nvim_buf_set_name(bufnr, env.SMALLCODER_FILE)
vim.api.nvim_buf_set_lines(bufnr, 0, -1, false, { "s = '😀'", "x = 1" })
local uri = vim.uri_from_bufnr(bufnr)
vim.lsp.util.buf_versions[bufnr] = 7
local at_end = { line = 0, character = 8 }

local function case(name, params, opts, encoding)
  calls = {}
  local done, why = ready.act(params, encoding or "utf-16", opts or options)
  results[name] = { done = done or vim.NIL, why = why or vim.NIL, calls = calls }
end

local function params(overrides)
  return vim.tbl_extend("force", { uri = uri, version = 7, position = at_end }, overrides or {})
end

-- Stand-ins for the editors' completion UIs: Neovim 0.11's menu, and 0.12's inline completion.
local real_inline = vim.lsp.inline_completion
vim.lsp.completion.get = record("completion.get", function(opts)
  return opts
end)
local function as_012(completor)
  vim.lsp.inline_completion = { is_enabled = function()
    return true
  end }
  package.loaded["vim.lsp._capability"] = { all = { inline_completion = { active = { [bufnr] = completor } } } }
end
local function as_011()
  vim.lsp.inline_completion = real_inline
  package.loaded["vim.lsp._capability"] = nil
end

local function run_cases()
  vim.api.nvim_win_set_cursor(0, { 1, #"s = '😀'" })
  as_011()
  case("matching", params())
  case("utf8_position", params({ position = { line = 0, character = 10 } }), nil, "utf-8")
  case("utf8_position_read_as_utf16", params({ position = { line = 0, character = 10 } }))
  case("older_version", params({ version = 6 }))
  case("other_line", params({ position = { line = 1, character = 5 } }))
  case("other_document", params({ uri = uri .. ".other" }))
  case("autotrigger_off", params(), vim.tbl_extend("force", options, { autotrigger = false }))

  as_012({ client_state = {}, request = record("completor.request", function(_, kind)
    return kind
  end) })
  case("inline", params())
  case("inline_older_version", params({ version = 8 }))
  case("inline_off_in_options", params(), vim.tbl_deep_extend("force", options, { inline = { enabled = false } }))

  as_012(nil)
  local group = vim.api.nvim_create_augroup(("nvim.lsp.inline_completion:%d"):format(bufnr), {})
  vim.api.nvim_create_autocmd("CursorMovedI", { group = group, buffer = bufnr, callback = record("CursorMovedI", function(ev)
    return ev.buf == bufnr
  end) })
  case("inline_by_autocmd", params())
  as_011()
  finish(nil)
end

case("normal_mode", params())
vim.api.nvim_feedkeys("A", "n", false)
local deadline = vim.uv.now() + 10000
local function wait_for_insert()
  if vim.api.nvim_get_mode().mode == "i" then
    local ok, err = pcall(run_cases)
    if not ok then
      finish(tostring(err))
    end
  elseif vim.uv.now() > deadline then
    finish("insert mode never came")
  else
    vim.defer_fn(wait_for_insert, 20)
  end
end
vim.defer_fn(wait_for_insert, 20)
