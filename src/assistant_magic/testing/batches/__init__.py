"""The Batch API: a job of requests read from an uploaded JSONL file, answered by the script.

``input`` reads the file, ``batch`` drives one batch through its states and writes its output and
error files, ``api`` serves ``/v1/batches``. See ``batch`` for the pace
(``ScriptedServer(batch_polls_per_state=N)``) and ``ScriptedServer.expire_batch``.
"""
