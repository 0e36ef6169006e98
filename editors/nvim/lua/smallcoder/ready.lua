-- Acting on the server's `smallcoder/suggestionReady` notification. The server holds an automatic request
-- until it has a suggestion, but answers it without one when its cap (completion.holdMs) passes; Neovim never
-- asks again while the user sits still. When the suggestion is ready later, the server says so, and we ask
-- again if the buffer and the cursor are still where that request was made.
local M = {}

-- LSP 3.18 InlineCompletionTriggerKind.Automatic; CompletionTriggerKind.TriggerForIncompleteCompletions.
-- Neither is "Invoked": the server answers them from the decode it is running instead of starting over.
local INLINE_AUTOMATIC = 2
local FOR_INCOMPLETE = 3

--- The current buffer, when it is the notification's document at its version, in insert mode, with the cursor
--- at its position (compared in the client's position encoding); else nil and the reason.
function M.still_there(params, offset_encoding)
  local bufnr = vim.api.nvim_get_current_buf()
  if vim.uri_from_bufnr(bufnr) ~= params.uri then
    return nil, "another buffer"
  end
  if vim.lsp.util.buf_versions[bufnr] ~= params.version then
    return nil, "the buffer changed"
  end
  local mode = vim.api.nvim_get_mode().mode
  if mode ~= "i" and mode ~= "ic" then
    return nil, "not in insert mode"
  end
  local cursor = vim.lsp.util.make_position_params(0, offset_encoding).position
  if cursor.line ~= params.position.line or cursor.character ~= params.position.character then
    return nil, "the cursor moved"
  end
  return bufnr
end

--- Neovim 0.12+: a new automatic inline completion request for the buffer. vim.lsp.inline_completion has no
--- public call for that, so use its per-buffer object, else the autocmd it requests from (debounced 200 ms).
local function request_inline(bufnr)
  local ok, capability = pcall(require, "vim.lsp._capability")
  local completor = ok and vim.tbl_get(capability, "all", "inline_completion", "active", bufnr)
  if completor and type(completor.request) == "function" and completor.client_state then
    completor:request(INLINE_AUTOMATIC)
    return "inline"
  end
  local group = ("nvim.lsp.inline_completion:%d"):format(bufnr)
  if pcall(vim.api.nvim_exec_autocmds, "CursorMovedI", { group = group, buffer = bufnr }) then
    return "inline (autocmd)"
  end
  return nil, "no inline completion request for this Neovim"
end

--- Ask again if the user is still there: the inline request (0.12+) or the completion menu (0.11).
--- `options` are the plugin's resolved options. Returns what was done, or nil and why not.
function M.act(params, offset_encoding, options)
  local bufnr, why = M.still_there(params, offset_encoding)
  if not bufnr then
    return nil, why
  end
  local inline = vim.lsp.inline_completion
  if inline and options.inline.enabled then
    if inline.is_enabled and not inline.is_enabled({ bufnr = bufnr }) then
      return nil, "inline completion is off in this buffer"
    end
    return request_inline(bufnr)
  end
  if vim.lsp.completion and options.autotrigger then
    vim.lsp.completion.get({ ctx = { triggerKind = FOR_INCOMPLETE } })
    return "menu"
  end
  return nil, "no automatic completion UI"
end

--- The client handler for the notification; `options()` gives the plugin's current options.
function M.handler(options)
  return function(_, params, ctx)
    local client = vim.lsp.get_client_by_id(ctx.client_id)
    if client and type(params) == "table" and type(params.position) == "table" then
      M.act(params, client.offset_encoding, options())
    end
  end
end

return M
