"""What the anthropic backend uses when a plan says nothing (read by its options and by it)."""

DEFAULT_MODEL = "claude-sonnet-4-6"  # current; sonnet-4-5 reached end-of-life on 2026-11-30
DEFAULT_MAX_TOKENS = 2048
