"""Loading base models, the strategy registry and per-project artifacts."""
