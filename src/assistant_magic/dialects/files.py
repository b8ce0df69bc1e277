"""Files and vector stores: the same endpoints for every dialect whose server keeps files."""

from __future__ import annotations

from ..errors import ApiError
from .openai_sdk import SdkDialect, api_errors


class SdkFiles(SdkDialect):
    """`interface.ServerFiles` over the openai SDK: the Files and Vector Stores APIs."""

    def upload_file(self, filename: str, data: bytes, purpose: str = "user_data") -> str:
        with api_errors(self.settings):
            uploaded = self.client.files.create(
                file=(filename, data),
                purpose=purpose,  # type: ignore[arg-type]
            )
        return uploaded.id

    def delete_file(self, file_id: str) -> None:
        with api_errors(self.settings, missing_ok=True):
            self.client.files.delete(file_id)

    def create_vector_store(self, name: str) -> str:
        with api_errors(self.settings):
            return self.client.vector_stores.create(name=name).id

    def add_to_vector_store(self, vector_store_id: str, file_id: str) -> None:
        with api_errors(self.settings):
            added = self.client.vector_stores.files.create_and_poll(
                file_id, vector_store_id=vector_store_id, poll_interval_ms=200
            )
        if added.status != "completed":
            reason = added.last_error.message if added.last_error else added.status
            raise ApiError(f"File search could not index {file_id}: {reason}")

    def delete_vector_store(self, vector_store_id: str) -> None:
        with api_errors(self.settings, missing_ok=True):
            self.client.vector_stores.delete(vector_store_id)
