"""MCP servers hosted by the Responses API (`%assistant mcp add NAME URL --hosted`): the `mcp`
tool as it is sent, approvals answered by the same rules as the kernel's own tools, and the
server's calls shown; on the other dialects the kernel calls the server itself."""

from __future__ import annotations

from typing import Any

import pytest

from assistant_magic.errors import ConfigurationError
from assistant_magic.mcp_servers.config import from_setting
from assistant_magic.testing import ScriptedServer, Text

from conftest import EventLog, one_line
from mcp_fixtures import mcp_url, run

__all__ = ["mcp_url"]  # fixtures

DOCS = "https://mcp.example.com/docs"


def mcp_tools(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [tool for tool in body.get("tools", []) if tool["type"] == "mcp"]


def test_hosted_is_a_setting_of_url_servers_only() -> None:
    (config,) = from_setting({"docs": {"url": DOCS, "hosted": True}}).values()
    assert config.hosted and config.setting() == {"url": DOCS, "hosted": True}
    with pytest.raises(ConfigurationError, match="only a URL server can be hosted"):
        from_setting({"time": {"command": "python", "hosted": True}})
    with pytest.raises(ConfigurationError, match="confirm and hosted are true or false"):
        from_setting({"docs": {"url": DOCS, "hosted": "yes"}})


def test_add_hosted_then_dry_run_shows_the_tool_with_its_secret_masked(
    ip, server: ScriptedServer, capsys, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DOCS_TOKEN", "tok-very-secret-123")
    error, out = run(
        ip,
        f'%assistant mcp add docs {DOCS} --hosted --header "Authorization: Bearer $DOCS_TOKEN"',
        capsys,
    )
    assert error is None and "MCP server docs added (http:" in out
    error, out = run(ip, "%assistant mcp", capsys)
    assert "hosted: OpenAI's servers call it on the Responses API" in out
    assert "state: on the Responses API, OpenAI's; from this kernel: " in out
    error, out = run(ip, "%%ask --dry-run\nSearch the docs.", capsys)
    assert error is None
    assert '"type": "mcp"' in out and '"server_label": "docs"' in out
    assert f'"server_url": "{DOCS}"' in out
    assert '"require_approval": {\n' in out and '"read_only": true' in out
    assert "tok-very-secret-123" not in out and '"Authorization": "Bearer tok…-123"' in out
    assert "Tools: docs (hosted MCP server)." in out
    assert server.requests == [], "nothing is sent, nothing is started"


def test_a_command_server_cannot_be_hosted(ip, server, capsys) -> None:  # type: ignore[no-untyped-def]
    error, _ = run(ip, "%assistant --hosted mcp add time -- python -m mcp_server_time", capsys)
    assert one_line(error) and "--hosted goes with a URL server" in str(error)


def test_the_request_names_a_forced_hosted_tool_as_an_mcp_choice() -> None:
    from assistant_magic.dialects.interface import ApprovalAnswer, ResponseRequest
    from assistant_magic.dialects.responses import request_params
    from assistant_magic.mcp_servers.hosted import HostedMcp

    (config,) = from_setting({"docs": {"url": DOCS, "hosted": True, "confirm": True}}).values()
    hosted = HostedMcp(config, allowed_tools=("search",), environ={})
    request = ResponseRequest(
        model="gpt-5.4-mini",
        instructions="",
        remote_thread=None,
        user_text=None,
        mcp_servers=(hosted,),
        tool_choice="docs__search",
        approvals=(ApprovalAnswer("mcpr_1", approve=False),),
    )
    body = request_params(request)
    assert body["tool_choice"] == {"type": "mcp", "server_label": "docs", "name": "search"}
    (tool,) = mcp_tools(body)
    assert tool["require_approval"] == "always" and tool["allowed_tools"] == ["search"]
    assert "headers" not in tool
    assert body["input"] == [
        {"type": "mcp_approval_response", "approval_request_id": "mcpr_1", "approve": False}
    ]


# -- end to end, on the scripted Responses API -----------------------------------------------

SEARCH = {"name": "search", "description": "Search the docs."}
READ_ONLY = {**SEARCH, "annotations": {"readOnlyHint": True}}
DESTRUCTIVE = {"name": "drop", "annotations": {"destructiveHint": True}}


class Seen(EventLog):
    """A view that keeps the ask's events, and an approver that answers as told."""

    def __init__(self, answer: bool | None = True) -> None:
        super().__init__()
        self.answer = answer
        self.asked: list[str] = []

    def approve(self, tool: object, display: str) -> bool | None:
        self.asked.append(display)
        return self.answer

    def calls(self) -> list[tuple[str, str, str]]:
        from assistant_magic.events import ToolCallFinished

        return [
            (e.display, e.status, e.note if e.status == "denied" else e.output)
            for e in self.events
            if isinstance(e, ToolCallFinished)
        ]


@pytest.fixture
def hosted(server: ScriptedServer, tmp_path) -> Any:  # type: ignore[no-untyped-def]
    from assistant_magic import Assistant

    from conftest import API_KEY

    made: list[Assistant] = []

    def make(seen: Seen, confirm: bool = False, **options: Any) -> Assistant:
        spec = {"url": DOCS, "hosted": True, "confirm": confirm}
        made.append(
            Assistant(
                store=tmp_path / "threads.sqlite3",
                base_url=server.base_url,
                dialect="responses",
                model="gpt-5.4-mini",
                environ={"OPENAI_API_KEY": API_KEY},
                approve=seen.approve,
                mcp_servers={"docs": spec},
                **options,
            )
        )
        return made[-1]

    yield make
    for assistant in made:
        assistant.close()


def bodies(server: ScriptedServer) -> list[dict[str, Any]]:
    return [r.body for r in server.requests_to("POST", "/v1/responses")]


def test_a_tool_not_marked_destructive_is_approved_without_asking(hosted, server) -> None:  # type: ignore[no-untyped-def]
    from assistant_magic.testing import McpCall

    seen = Seen()
    server.script(
        McpCall(
            "docs",
            "search",
            {"q": "scouter"},
            output="Scouters read power.",
            tools=[SEARCH],
            text="Scouters read battle power.",
        )
    )
    answer = hosted(seen).ask("What is a scouter?", view=seen)
    assert str(answer) == "Scouters read battle power."
    assert seen.asked == [], "the server's list does not mark it destructive"
    assert seen.calls() == [("docs__search(q='scouter')", "ok", "Scouters read power.")]
    first, approval = bodies(server)
    (tool,) = mcp_tools(first)
    assert tool["require_approval"] == {"never": {"read_only": True}}
    assert approval["input"] == [
        {
            "type": "mcp_approval_response",
            "approval_request_id": approval["input"][0]["approval_request_id"],
            "approve": True,
        }
    ]
    assert approval["conversation"] == first["conversation"]


def test_a_read_only_tool_runs_with_no_approval_round(hosted, server) -> None:  # type: ignore[no-untyped-def]
    from assistant_magic.testing import McpCall

    seen = Seen()
    server.script(
        McpCall("docs", "search", {"q": "x"}, output="found", tools=[READ_ONLY], text="Done.")
    )
    assert str(hosted(seen).ask("Search", view=seen)) == "Done."
    assert len(bodies(server)) == 1
    assert seen.calls() == [("docs__search(q='x')", "ok", "found")]


def test_a_destructive_tool_asks_and_a_denial_is_sent(hosted, server) -> None:  # type: ignore[no-untyped-def]
    from assistant_magic.testing import McpCall

    seen = Seen(answer=False)
    server.script(
        McpCall(
            "docs",
            "drop",
            {"table": "fighters"},
            output="dropped",
            tools=[DESTRUCTIVE],
            text="I did not drop it.",
        )
    )
    assert str(hosted(seen).ask("Drop the fighters table", view=seen)) == "I did not drop it."
    assert seen.asked == ["docs__drop(table='fighters')"]
    assert seen.calls() == [("docs__drop(table='fighters')", "denied", "denied by the user")]
    assert bodies(server)[1]["input"][0]["approve"] is False


def test_confirm_asks_for_every_tool_and_an_error_is_shown(hosted, server) -> None:  # type: ignore[no-untyped-def]
    from assistant_magic.testing import McpCall

    seen = Seen(answer=True)
    server.script(
        McpCall(
            "docs",
            "search",
            {"q": "x"},
            error="index offline",
            tools=[READ_ONLY],
            text="The search failed.",
        )
    )
    assert str(hosted(seen, confirm=True).ask("Search", view=seen)) == "The search failed."
    assert seen.asked == ["docs__search(q='x')"], "confirm: even a read-only tool asks"
    assert mcp_tools(bodies(server)[0])[0]["require_approval"] == "always"
    ((_, status, output),) = seen.calls()
    assert status == "error" and "index offline" in output


def test_an_interrupt_at_the_approval_leaves_it_refused_and_the_thread_usable(
    hosted, server
) -> None:  # type: ignore[no-untyped-def]
    from assistant_magic.errors import AskInterrupted
    from assistant_magic.testing import McpCall

    class Interrupting(Seen):
        def approve(self, tool: object, display: str) -> bool | None:
            raise KeyboardInterrupt

    seen = Interrupting()
    assistant = hosted(seen)
    server.script(
        McpCall("docs", "drop", {}, output="dropped", tools=[DESTRUCTIVE]), Text("Still here.")
    )
    with pytest.raises(AskInterrupted):
        assistant.ask("Drop it", view=seen)
    assert str(assistant.ask("Are you there?")) == "Still here."
    conversation = bodies(server)[0]["conversation"]
    items = server.conversation_items(conversation)
    (answered,) = [i for i in items if i["type"] == "mcp_approval_response"]
    assert answered["approve"] is False


def test_a_hosted_call_is_replayed(hosted, server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from assistant_magic.testing import McpCall

    seen = Seen()
    server.script(
        McpCall("docs", "search", {"q": "x"}, output="found", tools=[SEARCH], text="Done.")
    )
    assert str(hosted(seen, replay="on").ask("Search", view=seen)) == "Done."
    sent = len(server.requests)
    again = Seen()
    replayed = hosted(again, replay="only").ask("Search", view=again)
    assert str(replayed) == "Done." and len(server.requests) == sent
    assert again.calls() == [("docs__search(q='x')", "ok", "found")]


def test_the_magic_offers_a_hosted_server(ip, server, capsys) -> None:  # type: ignore[no-untyped-def]
    from assistant_magic.testing import McpCall

    run(ip, f"%assistant mcp add docs {DOCS} --hosted", capsys)
    server.script(
        McpCall("docs", "search", {"q": "x"}, output="found", tools=[READ_ONLY], text="Done.")
    )
    error, out = run(ip, "%%ask\nSearch the docs", capsys)
    assert error is None and "Done." in out
    assert "✓ docs__search(q='x') → found" in out


def test_on_chat_a_hosted_server_is_called_from_the_kernel(ip, server, capsys, mcp_url) -> None:  # type: ignore[no-untyped-def]
    from assistant_magic.testing import FunctionCall, ToolCalls

    ip.run_line_magic("assistant", "--dialect chat")
    run(ip, f"%assistant mcp add fx {mcp_url} --hosted", capsys)
    server.script(
        ToolCalls([FunctionCall("fx__echo", {"text": "hi", "times": 2}, call_id="c1")]),
        Text("Echoed."),
    )
    error, out = run(ip, "%%ask\nEcho hi twice", capsys)
    assert error is None and "Echoed." in out
    assert "✓ fx__echo(text='hi', times=2) → hi hi" in out
