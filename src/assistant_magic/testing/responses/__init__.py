"""The Responses API (``/v1/responses``) and the Conversations API its responses extend."""
