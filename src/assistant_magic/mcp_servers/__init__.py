"""MCP servers whose tools an ask offers beside the notebook's functions.

- `config`: `ServerConfig`, from the `mcpServers` shape or `%assistant mcp add`; `$VAR`s read at
  connect time
- `loop`: `BackgroundLoop`, the one thread and event loop every session runs on
- `connection`: `Connection`, one server's client session
- `servers`: `McpServers`, the kernel's servers, started lazily, failures as one line

The `mcp` SDK is imported when the first server starts, never by `%load_ext`.
"""
