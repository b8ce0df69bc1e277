"""Images the assistant produces or sees: the public names of the modules that make and keep them.

Code interpreter charts (downloaded bytes), image generation results (base64), partial images
while streaming, a tool's PIL image or matplotlib figure, and a user's attached file all come
through here, and all end as an `AssistantImage` (`assistant_image`): the loaded image plus the
original bytes, which is what gets displayed, saved and sent to a model. Bytes and base64 are
checked against `ImageLimits` and decoded in `image_decoding`, the one place that decodes images;
Python values are turned into images in `image_objects`; a bad, hostile or oversized image ends as
one `ImageError` line (`image_errors`) saying what was wrong and where the image came from.

Importing this module is cheap: Pillow is imported by the functions that need it, and matplotlib
never (a figure is rendered through its own ``savefig``).
"""

from __future__ import annotations

from .assistant_image import AssistantImage, safe_name, save_all
from .image_decoding import DEFAULT_LIMITS, ImageLimits, decode, decode_base64
from .image_errors import ImageError
from .image_objects import from_object, is_image_object

__all__ = [
    "DEFAULT_LIMITS",
    "AssistantImage",
    "ImageError",
    "ImageLimits",
    "decode",
    "decode_base64",
    "from_object",
    "is_image_object",
    "safe_name",
    "save_all",
]
