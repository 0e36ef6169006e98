-- :checkhealth smallcoder — is the server found, which version, and which backend and model it runs.
local M = {}

local function status_of(client)
  local request = vim.fn.has("nvim-0.11") == 1 and function(...)
    return client:request_sync(...)
  end or client.request_sync
  local response = request("smallcoder/status", {}, 5000, nil)
  return response and response.result, response and response.err
end

function M.check()
  local health = vim.health
  local smallcoder = require("smallcoder")
  health.start("smallcoder")
  if vim.lsp.inline_completion then
    health.ok("Neovim " .. tostring(vim.version()) .. ": ghost text (vim.lsp.inline_completion)")
  elseif vim.lsp.completion then
    health.ok("Neovim " .. tostring(vim.version()) .. ": completion menu (vim.lsp.completion); ghost text needs 0.12")
  else
    health.warn("Neovim " .. tostring(vim.version()) .. ": no LSP completion UI; use <C-x><C-o>", { "Use Neovim 0.11+" })
  end
  local options = smallcoder.options
  if not options then
    health.error("setup() was not called", { 'Add require("smallcoder").setup{} to your config' })
    return
  end
  local exe = vim.fn.exepath(options.cmd[1])
  if exe == "" then
    health.error(("server not found: %s"):format(options.cmd[1]), { "pip install smallcoder-lsp", "or set cmd in setup()" })
    return
  end
  health.ok("server found: " .. exe)
  -- The command up to its `serve` argument, with --version: works for `python -m smallcoder_lsp serve` too.
  local version_cmd = { exe }
  for i = 2, #options.cmd do
    if options.cmd[i] == "serve" then
      break
    end
    table.insert(version_cmd, options.cmd[i])
  end
  table.insert(version_cmd, "--version")
  local version = vim.system(version_cmd, { text = true }):wait(30000)
  if version.code == 0 then
    health.ok("version: " .. vim.trim(version.stdout))
  else
    health.warn(("`%s` failed: %s"):format(table.concat(version_cmd, " "), vim.trim(version.stderr or "")))
  end
  local client = smallcoder.clients()[1]
  if not client then
    health.info(("not running; it starts in buffers of filetype %s"):format(table.concat(options.filetypes, ", ")))
    return
  end
  local status, err = status_of(client)
  if not status then
    health.warn("smallcoder/status failed: " .. vim.inspect(err))
  elseif status.state == "error" then
    health.error("model: " .. (status.message or "failed to load"))
  else
    health.ok(("state: %s, backend: %s, model: %s"):format(status.state, status.backend, status.model))
  end
end

return M
