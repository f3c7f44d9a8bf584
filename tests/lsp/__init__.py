"""Tests of the language server (lsp/codecustom_lsp) and `codecustom lsp`."""
