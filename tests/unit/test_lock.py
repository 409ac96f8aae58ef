"""requirements.lock still matches pyproject.toml (else: `make lock`)."""

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def _declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    return [Requirement(line) for line in lines]


def _locked() -> dict[str, str]:
    pins = re.findall(
        r"^([A-Za-z0-9._-]+)==([^\s;\\]+)", (ROOT / "requirements.lock").read_text(), re.M
    )
    return {canonicalize_name(name): version for name, version in pins}


def test_every_dependency_is_locked_at_a_version_it_allows() -> None:
    locked = _locked()
    stale = [
        str(requirement)
        for requirement in _declared()
        if locked.get(canonicalize_name(requirement.name)) is None
        or not requirement.specifier.contains(
            locked[canonicalize_name(requirement.name)], prereleases=True
        )
    ]
    assert stale == [], f"requirements.lock is stale for {stale}: run `make lock`"


def test_every_locked_package_is_pinned_with_hashes() -> None:
    text = (ROOT / "requirements.lock").read_text()
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
    unhashed = [block.split(" ", 1)[0] for block in blocks if "--hash=sha256:" not in block]
    assert len(_locked()) > 50
    assert unhashed == []
