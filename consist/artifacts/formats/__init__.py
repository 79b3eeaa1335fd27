"""Per-format drivers: writing frames, loading and scanning files."""
