"""Replay: an ask made before is answered from its recording, with no key, no network and no
cost (`%assistant replay on|only`).

Every response is recorded under the key of what its request would send (`keys`), normalised
so that what changes between runs (conversation, response, file and call ids) does not break a
match, and chained to the response before it on the thread, so the same message on another
thread is another key. The recording holds the response's events (`events`); replaying yields
them again, so the ask, its tools (run again: they may have effects the notebook relies on), its
images, typed answer and usage go as they went. It all sits at the dialect seam (`dialect`):
every dialect gets it. Recordings live in the store and travel as a file (`recordings`).
"""
