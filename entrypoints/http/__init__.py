"""The JSON API (FastAPI). Pydantic lives here and nowhere deeper."""
