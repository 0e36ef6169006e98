-- Options of require("smallcoder").setup{...}: their defaults, and a check of what the user passed.
local M = {}

--- The server's settings, sent as initializationOptions and workspace/didChangeConfiguration. Same keys and
--- defaults as smallcoder_lsp/config.py (tests/editors/test_config_sync.py checks that they match).
M.server_defaults = {
  model = "auto",
  codeVocabulary = true,
  requantize = true,
  backend = "auto",
  remoteUrl = "",
  remoteTimeoutMs = 10000,
  kvStatesMb = 256,
  contextLength = 4096,
  threads = 0,
  logLevel = "info",
  completion = {
    enabled = true,
    maxTokens = 48,
    multilineMaxTokens = 128,
    maxLines = 8,
    prefixTokens = 1024,
    suffixTokens = 256,
    firstTokenTargetMs = 200,
    candidates = 5,
    autoCandidates = 1,
    fim = "never",
    holdMs = 1500,
    blockWaitMs = 300,
    prefetch = true,
    temperature = 0.0,
    timeoutMs = 2000,
    maxFileBytes = 8000000,
  },
  docstring = {
    style = "google",
    maxLineLength = 88,
    maxTokens = 40,
  },
}

M.defaults = {
  cmd = { "smallcoder-lsp", "serve" }, -- how to start the server
  filetypes = { "python" }, -- buffers that get completions
  settings = M.server_defaults,
  inline = { -- ghost text, Neovim 0.12+
    enabled = true,
    keys = { accept = "<M-l>", next = "<M-]>", prev = "<M-[>" }, -- insert mode; false leaves a key unmapped
  },
  autotrigger = true, -- Neovim 0.11's completion menu opens as you type (else <C-x><C-o>)
  max_restarts = 3, -- restarts after a crash before giving up
}

local function is_list_of_strings(value)
  return vim.islist(value) and #value > 0 and vim.iter(value):all(function(v)
    return type(v) == "string"
  end)
end

-- Options that may hold another type than their default's.
local allowed = {
  ["inline.keys.accept"] = "string|false",
  ["inline.keys.next"] = "string|false",
  ["inline.keys.prev"] = "string|false",
}

--- Merge `user` over `default`; a wrong type or unknown key is reported in `problems` and the default is kept.
local function merge(default, user, path, problems)
  local out = vim.deepcopy(default)
  for key, value in pairs(user) do
    local where = path .. key
    local base = default[key]
    if base == nil then
      table.insert(problems, ("unknown option '%s'"):format(where))
    elseif type(base) == "table" and not vim.islist(base) then
      if type(value) == "table" then
        out[key] = merge(base, value, where .. ".", problems)
      else
        table.insert(problems, ("'%s' must be a table, got %s"):format(where, vim.inspect(value)))
      end
    elseif vim.islist(base) and not is_list_of_strings(value) then
      table.insert(problems, ("'%s' must be a list of strings, got %s"):format(where, vim.inspect(value)))
    elseif type(base) ~= type(value) and not (allowed[where] and value == false) then
      table.insert(problems, ("'%s' must be a %s, got %s"):format(where, type(base), vim.inspect(value)))
    else
      out[key] = value
    end
  end
  return out
end

--- The options to use, and a list of problems with what the user passed.
function M.resolve(user)
  local problems = {}
  if user ~= nil and type(user) ~= "table" then
    return vim.deepcopy(M.defaults), { "setup() takes a table of options" }
  end
  return merge(M.defaults, user or {}, "", problems), problems
end

return M
