-- Telling the server where the cursor came to rest (`smallcoder/warm`), so that it prefills the prompt there
-- before the first key is typed: after a jump (a search, `G`, a click, another buffer) the first suggestion then
-- starts warm. Neovim says nothing of the cursor by itself (the VS Code extension sends the same notification).
-- Normal-mode moves only: while typing, the requests themselves say where the cursor is, and the server
-- ignores a position near its last request anyway.
local M = {}

M.REST_MS = 300 -- a move followed by this much stillness is a place the user may type at

local timers = {}

local function stop(bufnr)
  local timer = timers[bufnr]
  if timer then
    timer:stop()
    timer:close()
    timers[bufnr] = nil
  end
end

--- Send the cursor's position in `bufnr`, if that buffer is still the current one. `notify(method, params)`
--- sends to the client; `encoding` is the client's position encoding.
function M.send(bufnr, notify, encoding)
  if not vim.api.nvim_buf_is_valid(bufnr) or vim.api.nvim_get_current_buf() ~= bufnr then
    return false
  end
  local position = vim.lsp.util.make_position_params(0, encoding).position
  pcall(notify, "smallcoder/warm", { textDocument = { uri = vim.uri_from_bufnr(bufnr) }, position = position })
  return true
end

--- Watch `bufnr`'s cursor for the client (see M.send for `notify` and `encoding`); a later call for the same
--- buffer (a restarted server's client) replaces the earlier one.
function M.attach(bufnr, notify, encoding)
  local group = vim.api.nvim_create_augroup(("smallcoder.warm.%d"):format(bufnr), { clear = true })
  vim.api.nvim_create_autocmd({ "CursorMoved", "BufEnter" }, {
    group = group,
    buffer = bufnr,
    callback = function()
      local timer = timers[bufnr]
      if timer then
        timer:stop()
      else
        timer = (vim.uv or vim.loop).new_timer()
        timers[bufnr] = timer
      end
      timer:start(M.REST_MS, 0, vim.schedule_wrap(function()
        M.send(bufnr, notify, encoding)
      end))
    end,
  })
  vim.api.nvim_create_autocmd("BufUnload", {
    group = group,
    buffer = bufnr,
    callback = function()
      stop(bufnr)
      pcall(vim.api.nvim_del_augroup_by_id, group)
    end,
  })
end

return M
