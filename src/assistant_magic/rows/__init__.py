"""Asking over rows: one question for every row of a DataFrame, Series or list
(`%%ask --each NAME`, `Assistant.ask_each`).

Each row is asked on its own, outside the kernel's thread, with its fields as bounded context
(`table`). Rows whose request was answered before are read from the store (`cache`), identical
rows are asked once, and the rest run concurrently on an async client in a worker thread, under
a limit that halves on rate limits and grows back (`running`); several rows may share one
request (`grouping`). The main thread keeps the store, the budget and the progress display
(`progress`), and assembles the answers aligned to the input (`results`). `job` ties them
together.
"""
