"""codecustom language server (pygls)."""
