"""In-process adapters: fast fakes for use-case tests, and usable by any entrypoint."""
