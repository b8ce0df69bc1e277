"""pytest plugin: the ``openai_server`` fixture (being written; see assistant_magic.testing)."""
