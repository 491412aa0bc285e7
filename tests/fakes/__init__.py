"""Local fakes of the chat platforms, for tests without network."""
