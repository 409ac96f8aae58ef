"""The bundled list of passwords too common to accept."""

import gzip
from functools import cache
from importlib import resources


@cache
def load_common_passwords() -> frozenset[str]:
    data = resources.files("adapters.data").joinpath("common-passwords.txt.gz").read_bytes()
    return frozenset(gzip.decompress(data).decode().splitlines())
