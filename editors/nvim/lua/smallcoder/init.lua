-- smallcoder.nvim: local AI completion from the smallcoder-lsp language server.
-- Ghost text on Neovim 0.12+ (vim.lsp.inline_completion), the completion menu on 0.11 (vim.lsp.completion).
local config = require("smallcoder.config")
local ready = require("smallcoder.ready")
local warm = require("smallcoder.warm")

local M = {}

M.options = nil
local restarts = 0
local stopping = false
local warned = {}

local function notify(message, level)
  vim.notify("smallcoder: " .. message, level or vim.log.levels.INFO)
end

local function notify_once(message, level)
  if not warned[message] then
    warned[message] = true
    notify(message, level or vim.log.levels.ERROR)
  end
end

--- Methods are called with ':' from 0.11 on; 0.10 only has the '.' form.
local function call(client, method, ...)
  if vim.fn.has("nvim-0.11") == 1 then
    return client[method](client, ...)
  end
  return client[method](...)
end

function M.clients()
  return vim.lsp.get_clients({ name = "smallcoder" })
end

local function buffer_bytes(bufnr)
  return vim.api.nvim_buf_get_offset(bufnr, vim.api.nvim_buf_line_count(bufnr))
end

local function map_inline_keys(bufnr)
  local keys, inline = M.options.inline.keys, vim.lsp.inline_completion
  local select = inline.select or inline.jump -- `jump` in early 0.12 development builds
  local actions = {
    accept = function()
      inline.get()
    end,
    next = function()
      select({ count = 1 })
    end,
    prev = function()
      select({ count = -1 })
    end,
  }
  for name, action in pairs(actions) do
    if keys[name] then
      vim.keymap.set("i", keys[name], action, { buffer = bufnr, desc = "smallcoder: " .. name .. " suggestion" })
    end
  end
end

local function on_attach(client, bufnr)
  if vim.lsp.inline_completion and M.options.inline.enabled then
    vim.lsp.inline_completion.enable(true, { bufnr = bufnr })
    map_inline_keys(bufnr)
  elseif vim.lsp.completion then
    vim.lsp.completion.enable(true, client.id, bufnr, { autotrigger = M.options.autotrigger })
  end -- 0.10: the default omnifunc (<C-x><C-o>) still asks the server
  warm.attach(bufnr, function(method, params)
    call(client, "notify", method, params)
  end, client.offset_encoding)
end

local attach

local function on_exit(code, signal)
  if stopping or (code == 0 and signal == 0) then
    return
  end
  restarts = restarts + 1
  if restarts > M.options.max_restarts then
    notify(
      ("the server stopped %d times (last exit code %d, signal %d); not restarting it. "):format(restarts, code, signal)
        .. "See :LspLog, then :SmallCoderRestart.",
      vim.log.levels.ERROR
    )
    return
  end
  notify(("the server stopped (exit code %d, signal %d); restarting it"):format(code, signal), vim.log.levels.WARN)
  vim.schedule(function()
    for _, bufnr in ipairs(vim.api.nvim_list_bufs()) do
      attach(bufnr)
    end
  end)
end

--- Start the server for a buffer (or join the running one), unless it is not wanted there.
attach = function(bufnr)
  local opts = M.options
  if not vim.api.nvim_buf_is_loaded(bufnr) or not vim.tbl_contains(opts.filetypes, vim.bo[bufnr].filetype) then
    return
  end
  if restarts > opts.max_restarts then
    return
  end
  if vim.fn.executable(opts.cmd[1]) ~= 1 then
    notify_once(
      ("server not found: '%s' is not an executable on PATH. "):format(opts.cmd[1])
        .. "Install it with `pip install smallcoder-lsp`, or pass cmd = { '/path/to/smallcoder-lsp', 'serve' } to setup()."
    )
    return
  end
  if buffer_bytes(bufnr) > opts.settings.completion.maxFileBytes then
    notify_once(("%s is over completion.maxFileBytes; no completions there"):format(vim.api.nvim_buf_get_name(bufnr)),
      vim.log.levels.WARN)
    return
  end
  vim.lsp.start({
    name = "smallcoder",
    cmd = opts.cmd,
    root_dir = vim.fs.root(bufnr, { ".git", "pyproject.toml", "setup.py" }) or vim.fn.getcwd(),
    init_options = opts.settings,
    settings = opts.settings,
    on_attach = on_attach,
    on_exit = on_exit,
    handlers = {
      ["smallcoder/suggestionReady"] = ready.handler(function()
        return M.options
      end),
    },
  }, { bufnr = bufnr })
end

local function send_settings()
  for _, client in ipairs(M.clients()) do
    call(client, "notify", "workspace/didChangeConfiguration", { settings = M.options.settings })
  end
end

function M.toggle()
  local completion = M.options.settings.completion
  completion.enabled = not completion.enabled
  send_settings()
  if vim.lsp.inline_completion and M.options.inline.enabled then
    vim.lsp.inline_completion.enable(completion.enabled)
  end
  notify("completions " .. (completion.enabled and "on" or "off"))
end

--- Ask the server to add a docstring to the function at the cursor (workspace/executeCommand).
function M.docstring()
  local bufnr = vim.api.nvim_get_current_buf()
  local client = vim.lsp.get_clients({ name = "smallcoder", bufnr = bufnr })[1]
  if not client then
    notify("the server is not attached to this buffer", vim.log.levels.ERROR)
    return
  end
  local position = vim.lsp.util.make_position_params(0, client.offset_encoding).position
  local params = {
    command = "smallcoder.generateDocstring",
    arguments = { { uri = vim.uri_from_bufnr(bufnr), position = position } },
  }
  call(client, "request", "workspace/executeCommand", params, function(err, result)
    if err then
      notify("docstring failed: " .. (err.message or vim.inspect(err)), vim.log.levels.ERROR)
    elseif type(result) == "table" and (result.changes or result.documentChanges) then
      vim.lsp.util.apply_workspace_edit(result, client.offset_encoding)
    end
  end, bufnr)
end

function M.restart()
  stopping = true
  for _, client in ipairs(M.clients()) do
    call(client, "stop")
  end
  vim.defer_fn(function()
    stopping, restarts, warned = false, 0, {}
    for _, bufnr in ipairs(vim.api.nvim_list_bufs()) do
      attach(bufnr)
    end
  end, 500)
end

function M.setup(user)
  local options, problems = config.resolve(user)
  if #problems > 0 then
    notify("ignored bad options (defaults used): " .. table.concat(problems, "; "), vim.log.levels.WARN)
  end
  M.options = options
  local group = vim.api.nvim_create_augroup("smallcoder", { clear = true })
  vim.api.nvim_create_autocmd("FileType", {
    group = group,
    pattern = options.filetypes,
    callback = function(ev)
      attach(ev.buf)
    end,
  })
  vim.api.nvim_create_user_command("SmallCoderDocstring", M.docstring, { desc = "Generate a docstring" })
  vim.api.nvim_create_user_command("SmallCoderToggle", M.toggle, { desc = "Turn completions on or off" })
  vim.api.nvim_create_user_command("SmallCoderRestart", M.restart, { desc = "Restart the server" })
  for _, bufnr in ipairs(vim.api.nvim_list_bufs()) do
    attach(bufnr)
  end
end

return M
