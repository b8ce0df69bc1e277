"""The scripted model makes images (code interpreter, image generation) and reads images and files.

Driven by the real openai SDK over loopback HTTP with real image bytes made by Pillow, and every
exchange validated against OpenAI's OpenAPI description.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import openai
import pytest
from openai.types.responses import (
    ResponseCodeInterpreterCallCodeDeltaEvent,
    ResponseCodeInterpreterToolCall,
    ResponseCompletedEvent,
    ResponseImageGenCallPartialImageEvent,
    ResponseOutputItemAddedEvent,
    ResponseOutputMessage,
    ResponseOutputText,
    ResponseOutputTextAnnotationAddedEvent,
)
from openai.types.responses.response_output_item import ImageGenerationCall
from openai.types.responses.response_output_text import AnnotationContainerFileCitation
from PIL import Image

from assistant_magic.testing import (
    CodeInterpreter,
    FunctionCall,
    ImageGeneration,
    InputImage,
    ReplyContext,
    ScriptedServer,
    Text,
)
from assistant_magic.testing.openapi import TrafficValidator, load_spec
from assistant_magic.testing.responses.hosted_tool_events import (
    CodeRun,
    ImageRun,
    code_interpreter_events,
    image_generation_events,
)
from assistant_magic.testing.responses.response import Turn, initial_resource
from assistant_magic.testing.state import Container, ServerState

from conftest import SPEC

MODEL = "gpt-5.4-mini"
CODE_TOOL: Any = {"type": "code_interpreter", "container": {"type": "auto"}}
OUTPUTS: Any = ["code_interpreter_call.outputs"]

CODE_SEQUENCE = [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.code_interpreter_call.in_progress",
    "response.code_interpreter_call_code.delta",
    "response.code_interpreter_call_code.delta",
    "response.code_interpreter_call_code.delta",
    "response.code_interpreter_call_code.done",
    "response.code_interpreter_call.interpreting",
    "response.code_interpreter_call.completed",
    "response.output_item.done",
    "response.output_item.added",
    "response.content_part.added",
    "response.output_text.delta",
    "response.output_text.delta",
    "response.output_text.annotation.added",
    "response.output_text.annotation.added",
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.completed",
]


def picture(size: tuple[int, int] = (40, 30), color: str = "red", kind: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, kind)
    return buffer.getvalue()


def data_url(data: bytes, media_type: str = "image/png") -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode()}"


def user(*parts: Any) -> Any:
    return [{"role": "user", "content": [{"type": "input_text", "text": "look"}, *parts]}]


def added_item(event: object) -> object:
    assert isinstance(event, ResponseOutputItemAddedEvent), event
    return event.item


def code_call(item: object) -> ResponseCodeInterpreterToolCall:
    assert isinstance(item, ResponseCodeInterpreterToolCall), item
    return item


def image_call(item: object) -> ImageGenerationCall:
    assert isinstance(item, ImageGenerationCall), item
    return item


def citations(item: object) -> list[AnnotationContainerFileCitation]:
    assert isinstance(item, ResponseOutputMessage), item
    part = item.content[0]
    assert isinstance(part, ResponseOutputText), part
    found = [a for a in part.annotations if isinstance(a, AnnotationContainerFileCitation)]
    assert len(found) == len(part.annotations)
    return found


def _dump(annotation: object) -> object:
    """An annotation as a dict, whether the SDK parsed it into a model or left it a dict."""
    dump = getattr(annotation, "model_dump", None)
    return dump() if callable(dump) else annotation


def final_response(events: list[Any]) -> openai.types.responses.Response:
    completed = events[-1]
    assert isinstance(completed, ResponseCompletedEvent), completed
    return completed.response


# -- code interpreter ----------------------------------------------------------------------------


def test_code_interpreter_stream_cites_a_downloadable_chart(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    chart, shown = picture((64, 48), "navy"), picture((32, 24), "gold")
    code = "plt.plot([1, 4, 9])\nplt.savefig('/mnt/data/chart.png')"
    unchecked_server.script(
        CodeInterpreter(
            code=code,
            files={"chart.png": chart},
            images=[shown],
            logs="'/mnt/data/chart.png'",
            text="Here: [chart.png](sandbox:/mnt/data/chart.png)",
        )
    )

    events = list(
        client.responses.create(
            model=MODEL, input="plot squares", tools=[CODE_TOOL], include=OUTPUTS, stream=True
        )
    )

    assert [e.type for e in events] == CODE_SEQUENCE
    assert [e.sequence_number for e in events] == list(range(len(events)))
    added = code_call(added_item(events[2]))
    assert (added.status, added.code, added.outputs) == ("in_progress", "", [])
    assert added.container_id.startswith("cntr_") and added.id.startswith("ci_")
    deltas = [e for e in events if isinstance(e, ResponseCodeInterpreterCallCodeDeltaEvent)]
    assert "".join(d.delta for d in deltas) == code
    assert {d.item_id for d in deltas} == {added.id}

    response = final_response(events)
    call = code_call(response.output[0])
    assert (call.status, call.code, call.container_id) == ("completed", code, added.container_id)
    assert call.outputs is not None
    image_output, logs_output = call.outputs
    assert image_output.type == "image" and logs_output.type == "logs"
    assert image_output.url == data_url(shown)
    assert logs_output.logs == "'/mnt/data/chart.png'"

    text = "Here: [chart.png](sandbox:/mnt/data/chart.png)"
    assert response.output_text == text
    displayed, saved = citations(response.output[1])
    assert (displayed.start_index, displayed.end_index) == (0, 0)
    assert displayed.filename == f"{displayed.file_id}.png"
    assert saved.filename == "chart.png" and saved.file_id.startswith("cfile_")
    assert text[saved.start_index : saved.end_index] == "sandbox:/mnt/data/chart.png"
    added_events = [e for e in events if isinstance(e, ResponseOutputTextAnnotationAddedEvent)]
    assert [(e.annotation_index, _dump(e.annotation)) for e in added_events] == [
        (0, displayed.model_dump()),
        (1, saved.model_dump()),
    ]

    download = client.containers.files.content.retrieve(
        saved.file_id, container_id=saved.container_id
    )
    assert download.read() == chart
    shown_file = client.containers.files.retrieve(displayed.file_id, container_id=call.container_id)
    assert shown_file.path == f"/mnt/data/{displayed.file_id}.png"
    assert shown_file.source == "assistant"
    assert unchecked_server.validation_errors == []


def test_code_outputs_are_null_unless_included(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    unchecked_server.script(
        CodeInterpreter(
            "open('/mnt/data/data.csv', 'w')",
            files={"data.csv": b"x,y\n1,2\n", "unused.txt": b"-"},
            logs="ok",
            text="I wrote data.csv for you.",
        )
    )

    response = client.responses.create(model=MODEL, input="save", tools=[CODE_TOOL])

    assert code_call(response.output[0]).outputs is None
    cited, unmentioned = citations(response.output[1])
    assert response.output_text[cited.start_index : cited.end_index] == "data.csv"
    assert (unmentioned.filename, unmentioned.start_index, unmentioned.end_index) == (
        "unused.txt",
        0,
        0,
    )
    [container] = unchecked_server.containers
    assert sorted((f.path, f.data) for f in container.files.values()) == [
        ("/mnt/data/data.csv", b"x,y\n1,2\n"),
        ("/mnt/data/unused.txt", b"-"),
    ]
    assert unchecked_server.validation_errors == []


def test_code_interpreter_containers_follow_the_request(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    upload = client.files.create(file=("input.csv", b"a\n1\n"), purpose="user_data")
    tool: Any = {"type": "code_interpreter", "container": {"type": "auto", "file_ids": [upload.id]}}
    unchecked_server.script(
        CodeInterpreter("print(1)"), CodeInterpreter("print(2)"), CodeInterpreter("3")
    )

    first = client.responses.create(model=MODEL, input="one", tools=[tool])
    again = client.responses.create(
        model=MODEL, input="two", tools=[CODE_TOOL], previous_response_id=first.id
    )
    container_id = code_call(first.output[0]).container_id
    named = client.responses.create(
        model=MODEL, input="three", tools=[{"type": "code_interpreter", "container": container_id}]
    )

    assert code_call(again.output[0]).container_id == container_id  # reused from the context
    assert code_call(named.output[0]).container_id == container_id
    [seeded] = client.containers.files.list(container_id)
    assert seeded.path.endswith("-input.csv") and seeded.source == "user"
    assert len(unchecked_server.containers) == 1

    unchecked_server.script(CodeInterpreter("never played"))
    with pytest.raises(openai.BadRequestError) as rejected:
        client.responses.create(
            model=MODEL, input="x", tools=[{"type": "code_interpreter", "container": "cntr_gone"}]
        )
    assert rejected.value.param == "tools[0].container"
    assert len(unchecked_server.unused_replies) == 1  # a rejected request consumes no reply
    assert unchecked_server.validation_errors == []


def test_code_interpreter_without_the_tool_is_recorded(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    unchecked_server.script(CodeInterpreter("1 + 1", text="2"))

    response = client.responses.create(model=MODEL, input="add")

    assert response.output_text == "2"  # answered all the same
    assert unchecked_server.validation_errors == [
        "scripted reply to POST /v1/responses uses the code_interpreter tool, but the request "
        "does not offer it (tools: [])"
    ]


# -- image generation ----------------------------------------------------------------------------


def test_image_generation_streams_the_partial_images_asked_for(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    final = picture((96, 64), "green", "JPEG")
    partials = [picture((12, 8), "gray"), picture((24, 16), "olive"), picture((48, 32), "lime")]
    unchecked_server.script(ImageGeneration(final, partials=partials, text="A green field."))

    events = list(
        client.responses.create(
            model=MODEL,
            input="a green field",
            tools=[{"type": "image_generation", "partial_images": 2, "quality": "low"}],
            stream=True,
        )
    )

    kinds = [e.type for e in events]
    assert kinds[:9] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.image_generation_call.in_progress",
        "response.image_generation_call.generating",
        "response.image_generation_call.partial_image",
        "response.image_generation_call.partial_image",
        "response.image_generation_call.completed",
        "response.output_item.done",
    ]
    assert kinds[-1] == "response.completed"
    sent = [e for e in events if isinstance(e, ResponseImageGenCallPartialImageEvent)]
    assert [e.partial_image_index for e in sent] == [0, 1]
    assert [base64.b64decode(e.partial_image_b64) for e in sent] == partials[:2]
    added = image_call(added_item(events[2]))
    assert (added.status, added.result) == ("in_progress", None)

    response = final_response(events)
    call = image_call(response.output[0])
    assert call.id.startswith("ig_") and call.status == "completed"
    assert call.result is not None and base64.b64decode(call.result) == final
    assert (call.size, call.output_format, call.quality) == ("96x64", "jpeg", "low")
    assert call.revised_prompt == "a green field"
    assert response.output_text == "A green field."
    assert unchecked_server.validation_errors == []


def test_image_generation_without_partial_images(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    unchecked_server.script(
        ImageGeneration(picture(), partials=[picture((4, 4))], revised_prompt="A red box.")
    )

    events = list(
        client.responses.create(
            model=MODEL, input="red", tools=[{"type": "image_generation"}], stream=True
        )
    )

    assert "response.image_generation_call.partial_image" not in [e.type for e in events]
    call = image_call(final_response(events).output[0])
    assert call.revised_prompt == "A red box."
    assert len(final_response(events).output) == 1  # no text scripted: no message
    assert unchecked_server.validation_errors == []


def test_generated_images_may_be_corrupt_or_huge(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    huge = io.BytesIO()
    Image.new("L", (4000, 3000)).save(huge, "PNG")
    tool: Any = {"type": "image_generation", "size": "1536x1024", "output_format": "webp"}
    unchecked_server.script(
        ImageGeneration(b"\x89PNG\r\n\x1a\ntruncated"), ImageGeneration(huge.getvalue())
    )

    broken = image_call(client.responses.create(model=MODEL, input="x", tools=[tool]).output[0])
    large = image_call(client.responses.create(model=MODEL, input="y", tools=[tool]).output[0])

    assert broken.result == base64.b64encode(b"\x89PNG\r\n\x1a\ntruncated").decode()
    assert (broken.size, broken.output_format) == ("1536x1024", "webp")  # from the tool
    assert large.result is not None and base64.b64decode(large.result) == huge.getvalue()
    assert (large.size, large.output_format) == ("4000x3000", "png")  # from the bytes
    assert unchecked_server.validation_errors == []


def test_hosted_tool_events_match_the_spec() -> None:
    validator = TrafficValidator(load_spec(SPEC))
    state = ServerState()
    body = {"model": MODEL, "input": "hi"}
    turns = [
        Turn(
            state,
            initial_resource(body, conversation_id=None),
            conversation=None,
            context_items=[],
            input_items=[],
        )
        for _ in range(2)
    ]
    container = Container("cntr_test", "test")
    state.containers[container.id] = container
    code = CodeInterpreter("x", files={"a.txt": b"a"}, images=[picture()], logs="", text="a.txt")
    events = [
        *code_interpreter_events(turns[0], code, CodeRun(container, True), delay=0),
        *image_generation_events(
            turns[1],
            ImageGeneration(picture(), partials=[picture()], text="done"),
            ImageRun({"type": "image_generation", "partial_images": 1}, "hi"),
            delay=0,
        ),
    ]

    assert [problem for e in events for problem in validator.event_violations(e)] == []
    assert [f.filename for f in container.files.values()][1] == "a.txt"


# -- images and files sent to the model ----------------------------------------------------------


def test_input_images_and_files_reach_the_reply_factory(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    photo = client.files.create(file=("photo.png", picture((5, 7))), purpose="vision")
    report = client.files.create(file=("report.pdf", b"%PDF-1.4 report"), purpose="user_data")
    seen: list[ReplyContext] = []

    def describe(context: ReplyContext) -> Text:
        seen.append(context)
        sizes = ", ".join(f"{w}x{h}" for w, h in (i.size for i in context.input_images))
        return Text(f"I see {sizes} and {[f.filename for f in context.input_files]}.")

    unchecked_server.script(describe)
    inline = picture((3, 4), "blue", "JPEG")
    response = client.responses.create(
        model=MODEL,
        input=user(
            {"type": "input_image", "image_url": data_url(inline, "image/jpeg"), "detail": "low"},
            {"type": "input_image", "file_id": photo.id, "detail": "high"},
            {"type": "input_file", "file_id": report.id},
            {
                "type": "input_file",
                "filename": "inline.txt",
                "file_data": data_url(b"plain words", "text/plain"),
            },
        ),
    )

    assert response.output_text == "I see 3x4, 5x7 and ['report.pdf', 'inline.txt']."
    images, files = seen[0].input_images, seen[0].input_files
    assert images == [
        InputImage("data_url", inline, "image/jpeg", "low"),
        InputImage(photo.id, picture((5, 7)), "image/png", "high"),
    ]
    assert [(f.source, f.filename, f.data) for f in files] == [
        (report.id, "report.pdf", b"%PDF-1.4 report"),
        ("file_data", "inline.txt", b"plain words"),
    ]
    assert unchecked_server.validation_errors == []


def test_a_tool_output_may_carry_an_image(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    screenshot = picture((16, 9), "white")
    tools: Any = [{"type": "function", "name": "screenshot", "parameters": {}, "strict": False}]
    conversation = client.conversations.create()
    unchecked_server.script(
        FunctionCall("screenshot", call_id="call_shot"),
        lambda context: Text(
            f"{context.tool_outputs['call_shot']}: "
            + ", ".join(f"{i.call_id} {i.size}" for i in context.input_images)
        ),
    )

    client.responses.create(model=MODEL, input="look", tools=tools, conversation=conversation.id)
    answer = client.responses.create(
        model=MODEL,
        tools=tools,
        conversation=conversation.id,
        input=[
            {
                "type": "function_call_output",
                "call_id": "call_shot",
                "output": [
                    {"type": "input_text", "text": "the screen"},
                    {"type": "input_image", "image_url": data_url(screenshot)},
                ],
            }
        ],
    )

    assert answer.output_text == "the screen: call_shot (16, 9)"
    items = list(client.conversations.items.list(conversation.id, order="asc"))
    kinds = [item.type for item in items]
    assert kinds == ["message", "function_call", "function_call_output", "message"]
    assert unchecked_server.validation_errors == []  # the stored image part reports detail "auto"


@pytest.mark.parametrize(
    ("part", "param"),
    [
        ({"type": "input_image", "file_id": "file-missing", "detail": "auto"}, "file_id"),
        ({"type": "input_file", "file_id": "file-missing"}, "file_id"),
    ],
    ids=["image", "file"],
)
def test_unknown_file_ids_are_rejected(
    unchecked_server: ScriptedServer, client: openai.OpenAI, part: Any, param: str
) -> None:
    unchecked_server.script(Text("never played"))

    with pytest.raises(openai.BadRequestError) as rejected:
        client.responses.create(model=MODEL, input=user(part))

    assert rejected.value.param == f"input[0].content[1].{param}"
    assert "file-missing" in rejected.value.message
    assert len(unchecked_server.unused_replies) == 1
    assert unchecked_server.validation_errors == []


@pytest.mark.parametrize(
    ("url", "message", "param"),
    [
        (
            "data:image/png;base64,not*base64",
            "but got an invalid base64-encoded value.",
            "input[0].content[1].image_url",
        ),
        (
            data_url(b"GIF89a but not really"),
            "The image data you provided does not represent a valid image.",
            "input",
        ),
        (
            data_url(picture((2, 2), kind="BMP"), "image/bmp"),
            "supported image formats: ['image/jpeg', 'image/png', 'image/gif', 'image/webp'].",
            "input",
        ),
        (
            data_url(b"hello", "text/plain"),
            "but got unsupported MIME type 'text/plain'.",
            "input[0].content[1].image_url",
        ),
    ],
    ids=["bad-base64", "not-an-image", "bmp", "not-image-mime"],
)
def test_bad_image_data_urls_are_rejected(
    unchecked_server: ScriptedServer, client: openai.OpenAI, url: str, message: str, param: str
) -> None:
    with pytest.raises(openai.BadRequestError) as rejected:
        client.responses.create(
            model=MODEL, input=user({"type": "input_image", "image_url": url, "detail": "auto"})
        )

    assert message in rejected.value.message
    assert (rejected.value.param, rejected.value.code) == (param, "invalid_value")
    assert unchecked_server.validation_errors == []
