"""The APIs that keep what models use: files, containers, vector stores, and the model list."""
