"""A scripted, OpenAI-compatible HTTP server for offline tests and demos."""
