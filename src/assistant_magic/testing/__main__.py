"""``python -m assistant_magic.testing``: an echoing OpenAI-compatible server for offline demos."""

from __future__ import annotations

import argparse
import signal
import threading
from types import FrameType

from .server import ScriptedServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m assistant_magic.testing",
        description="Serve echo replies on 127.0.0.1 until Ctrl-C.",
    )
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0: any free one)")
    parser.add_argument(
        "--chunk-delay",
        type=float,
        default=0.05,
        metavar="S",
        help="seconds between streamed chunks (default 0.05)",
    )
    parser.add_argument(
        "--api-key", default="sk-test", help="bearer key clients must send; empty string: no auth"
    )
    parser.add_argument(
        "--openapi",
        default=None,
        metavar="PATH",
        help="openapi.json to validate against (or $ASSISTANT_MAGIC_OPENAPI)",
    )
    parser.add_argument(
        "--chat-only",
        action="store_true",
        help="speak only Chat Completions: 404 on /v1/responses, /v1/conversations, "
        "/v1/assistants and /v1/threads",
    )
    args = parser.parse_args(argv)

    server = ScriptedServer(
        api_key=args.api_key or None,
        openapi=args.openapi,
        chunk_delay=args.chunk_delay,
        port=args.port,
        models=None,
        chat_only=args.chat_only,
    )
    # Stop on Ctrl-C or SIGTERM even if SIGINT was ignored by whoever started us (a shell runs
    # background jobs that way, and Python then installs no KeyboardInterrupt handler).
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    with server:
        print(f"Scripted OpenAI server at {server.base_url}", flush=True)
        print("Point clients at it with:", flush=True)
        print(f"  export OPENAI_BASE_URL={server.base_url}", flush=True)
        print(f"  export OPENAI_API_KEY={args.api_key or 'anything'}", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("\nStopped.", flush=True)
    for problem in server.validation_errors:
        print(f"validation: {problem}", flush=True)
    return 0


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    raise SystemExit(main())
