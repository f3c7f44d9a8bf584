-- codecustom language server for Neovim.
--
-- Put this file on your runtimepath as lua/codecustom.lua (or dofile() it) and call
--   require("codecustom").setup({})
-- Works with Neovim 0.8+ (vim.lsp.start). Completions arrive through textDocument/completion
-- (omnifunc, nvim-cmp, blink.cmp); Neovim 0.12+ also shows inline ghost text through
-- textDocument/inlineCompletion (vim.lsp.inline_completion).
local M = { status = {} }

local defaults = {
  cmd = { "codecustom", "lsp" },
  filetypes = { "python", "java", "javascript", "typescript", "go" },
  root_markers = { ".codecustom.toml", ".git" },
  -- sent as initializationOptions; same keys as .codecustom.toml, e.g.
  -- { model = { artifact = "/path/to/artifact" }, lsp = { debounce_ms = 150 } }
  init_options = nil,
  inline = true, -- enable ghost text where Neovim supports it (0.12+)
  omnifunc = true, -- set omnifunc so <C-x><C-o> asks the model
}

local function root_dir(bufnr, markers)
  local name = vim.api.nvim_buf_get_name(bufnr)
  local found = vim.fs.find(markers, { upward = true, path = vim.fs.dirname(name) })[1]
  return found and vim.fs.dirname(found) or vim.fn.getcwd()
end

--- Generate tests for the function under the cursor; the server answers with a workspace edit
--- (applied through workspace/applyEdit) into tests/test_<module>.py or src/test/java/.../FooTest.java.
function M.generate_tests()
  local params = vim.lsp.util.make_position_params()
  vim.lsp.buf_request(0, "workspace/executeCommand", {
    command = "codecustom.generateTests",
    arguments = { params.textDocument.uri, params.position },
  }, function(err, result)
    if err then
      vim.notify("codecustom: " .. (err.message or vim.inspect(err)), vim.log.levels.ERROR)
    elseif result == vim.NIL or result == nil then
      vim.notify("codecustom: no test kept", vim.log.levels.WARN)
    end
  end)
end

--- A short string for the statusline: model state, artifact and last latency.
function M.statusline()
  local s = M.status
  if not s.state then
    return ""
  end
  local text = "cc:" .. s.state
  if s.strategy and s.strategy ~= vim.NIL then
    text = text .. " " .. s.strategy
  end
  if s.lastLatencyMs and s.lastLatencyMs ~= vim.NIL then
    text = text .. string.format(" %dms", s.lastLatencyMs)
  end
  return text
end

function M.setup(opts)
  opts = vim.tbl_deep_extend("force", defaults, opts or {})
  vim.api.nvim_create_autocmd("FileType", {
    group = vim.api.nvim_create_augroup("codecustom_lsp", { clear = true }),
    pattern = opts.filetypes,
    callback = function(args)
      vim.lsp.start({
        name = "codecustom",
        cmd = opts.cmd,
        root_dir = root_dir(args.buf, opts.root_markers),
        init_options = opts.init_options,
        handlers = {
          ["codecustom/status"] = function(_, status)
            M.status = status or {}
          end,
        },
      }, { bufnr = args.buf })
      if opts.omnifunc then
        vim.bo[args.buf].omnifunc = "v:lua.vim.lsp.omnifunc"
      end
    end,
  })
  if opts.inline and vim.lsp.inline_completion then
    vim.lsp.inline_completion.enable(true)
    -- accept the ghost text with <Tab> when one is shown
    vim.keymap.set("i", "<Tab>", function()
      if not vim.lsp.inline_completion.get() then
        return "<Tab>"
      end
    end, { expr = true, desc = "accept codecustom inline completion" })
  end
  vim.api.nvim_create_user_command("CodecustomGenerateTests", M.generate_tests,
    { desc = "generate unit tests for the function under the cursor" })
  vim.api.nvim_create_user_command("CodecustomStatus", function()
    print(vim.inspect(M.status))
  end, { desc = "show the codecustom model status" })
end

return M
