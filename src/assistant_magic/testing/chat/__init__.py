"""Chat Completions (``POST /v1/chat/completions``), the dialect of self-hosted servers."""
