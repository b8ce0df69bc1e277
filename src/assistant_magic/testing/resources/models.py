"""The Models API: the ids this server accepts, listed and retrievable."""

from __future__ import annotations

import time
from typing import Any

from ..playback import model_not_found
from ..routing import Routes
from ..wire import Answer, JsonAnswer, RecordedRequest

_CREATED = int(time.time())


class ModelsApi:
    """``models`` None accepts any id: the list is empty and any id can be retrieved."""

    def __init__(self, models: frozenset[str] | None) -> None:
        self.models = models

    def register(self, routes: Routes) -> None:
        routes.add("GET", "/models", self.list)
        routes.add("GET", "/models/{model}", self.retrieve)

    def list(self, request: RecordedRequest) -> Answer:
        models = [_model(model_id) for model_id in sorted(self.models or ())]
        return JsonAnswer({"object": "list", "data": models})

    def retrieve(self, request: RecordedRequest) -> Answer:
        model = request.param("model")
        if self.models is not None and model not in self.models:
            raise model_not_found(model)
        return JsonAnswer(_model(model))


def _model(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": _CREATED, "owned_by": "system"}
