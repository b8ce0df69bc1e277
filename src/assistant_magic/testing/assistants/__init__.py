"""The legacy Assistants API (v2): assistants, threads, messages, runs and their steps."""
