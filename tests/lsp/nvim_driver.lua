-- Drives codecustom's language server from headless Neovim (0.7+): start the client on the
-- fixture repo, open a file, wait until the model is ready, ask for a completion at the cursor,
-- write what came back as JSON. Inputs come from environment variables (see test_neovim.py).
local function env_json(name)
  local value = os.getenv(name)
  if value == nil or value == "" then
    return nil
  end
  return vim.fn.json_decode(value)
end

local result = { statuses = {}, responses = {}, errors = {}, exit_code = vim.NIL }

local function finish()
  local out = io.open(os.getenv("CC_OUT"), "w")
  out:write(vim.fn.json_encode(result))
  out:close()
  vim.cmd("qa!")
end

local ok, err = pcall(function()
  vim.cmd("filetype on")
  local status = nil
  local client_id = vim.lsp.start_client({
    name = "codecustom",
    cmd = env_json("CC_CMD"),
    root_dir = os.getenv("CC_ROOT"),
    init_options = env_json("CC_INIT"),
    handlers = {
      ["codecustom/status"] = function(_, params)
        status = params
        table.insert(result.statuses, params.state)
      end,
    },
    on_exit = function(code)
      result.exit_code = code
    end,
  })
  if not client_id then
    error("vim.lsp.start_client failed")
  end
  vim.cmd("edit " .. vim.fn.fnameescape(os.getenv("CC_FILE")))
  local bufnr = vim.api.nvim_get_current_buf()
  result.filetype = vim.bo[bufnr].filetype
  vim.lsp.buf_attach_client(bufnr, client_id)
  local ready = vim.wait(tonumber(os.getenv("CC_TIMEOUT_MS") or "60000"), function()
    return status ~= nil and (status.state == "ready" or status.state == "failed")
  end, 20)
  result.ready = ready and status.state == "ready"
  result.status = status or vim.NIL
  -- the cursor as in insert mode at the end of "    return " (normal mode cannot sit past the last column)
  local pos = env_json("CC_POS")
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(bufnr) },
    position = { line = pos[1], character = pos[2] },
    context = { triggerKind = 1 }, -- invoked explicitly: no debounce
  }
  local timeout = tonumber(os.getenv("CC_TIMEOUT_MS") or "60000")
  local responses, request_err = vim.lsp.buf_request_sync(bufnr, "textDocument/completion", params, timeout)
  if request_err then
    table.insert(result.errors, request_err)
  end
  for _, response in pairs(responses or {}) do
    table.insert(result.responses, response)
  end
  vim.lsp.stop_client(client_id)
  -- wait for the server's exit itself (a loaded machine may take seconds to get there), not a fixed time
  vim.wait(timeout, function()
    return result.exit_code ~= vim.NIL
  end, 20)
end)
if not ok then
  table.insert(result.errors, tostring(err))
end
finish()
