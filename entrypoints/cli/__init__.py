"""The ``memory-agent`` command line: the same container and use cases as the API."""
