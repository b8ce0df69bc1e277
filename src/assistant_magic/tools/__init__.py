"""Notebook functions the model may call: marked, described, given arguments, run, answered.

The modules behind this surface, one concept each:

- `marking`: ``@tool`` and the options it leaves on a function
- `signature`: a callable's name, parameters and kind, checked without pydantic
- `schema`: `FunctionTool`, a function's parameters as a pydantic model, and its `ToolSchema`
- `strict`: that schema rewritten for OpenAI's strict mode, or why it cannot be
- `arguments`: the model's JSON arguments, validated, and the error text the model reads
- `results`: a tool's return value as the text the model reads
- `registry`: which notebook functions an ask offers
- `running`: running the calls (`ToolBox`), approving them, showing them to the person

Importing the package is cheap: pydantic, docstring_parser, nest_asyncio and PIL are imported
at first use.
"""

from .arguments import ToolArgumentError
from .marking import ToolOptions, tool, tool_options
from .results import result_text
from .running import ToolBox, approve_with_input, call_display
from .schema import FunctionTool, ToolSchema
from .signature import ToolDefinitionError

__all__ = [
    "FunctionTool",
    "ToolArgumentError",
    "ToolBox",
    "ToolDefinitionError",
    "ToolOptions",
    "ToolSchema",
    "approve_with_input",
    "call_display",
    "result_text",
    "tool",
    "tool_options",
]
