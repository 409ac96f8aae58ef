"""The endpoints under load as wrk Lua scripts, and wrk's command line and run."""

import json
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.config import CONTENT, EMAILS, LOGIN_ID, PASSWORD, READ_CHAT_ID, Config, post_chat_id
from bench.parsing import WrkResult, parse_wrk


@dataclass(frozen=True)
class Endpoint:
    key: str
    label: str
    path: str
    lua: str


def _lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string literal is a valid Lua string literal here


_SEED_THREADS = """
local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("seed", threads)
end
init = function(args)
  math.randomseed(os.time() * 1000 + (seed or 0) * 7919)
end
"""


def endpoints(config: Config, reader_token: str, poster_token: str) -> list[Endpoint]:
    def auth(token: str) -> str:
        return f'wrk.headers["Authorization"] = {_lua_string("Bearer " + token)}\n'

    chats = ", ".join(_lua_string(post_chat_id(n)) for n in range(1, config.post_chats + 1))
    post_body = json.dumps({"content": CONTENT})
    login_body = json.dumps({"email": EMAILS[LOGIN_ID], "password": PASSWORD})
    return [
        Endpoint(
            "post_messages",
            "POST /chats/{id}/messages",
            "/chats",
            auth(poster_token)
            + 'wrk.method = "POST"\n'
            + 'wrk.headers["Content-Type"] = "application/json"\n'
            + f"wrk.body = {_lua_string(post_body)}\n"
            + f"local chats = {{{chats}}}\n"
            + _SEED_THREADS
            + "request = function()\n"
            + '  return wrk.format(nil, "/chats/" .. chats[math.random(#chats)] .. "/messages")\n'
            + "end\n",
        ),
        Endpoint(
            "get_messages",
            "GET /chats/{id}/messages?limit=50",
            f"/chats/{READ_CHAT_ID}/messages?limit=50",
            auth(reader_token),
        ),
        Endpoint("get_chats", "GET /chats", "/chats", auth(reader_token)),
        Endpoint(
            "login",
            "POST /auth/login",
            "/auth/login",
            'wrk.method = "POST"\n'
            + 'wrk.headers["Content-Type"] = "application/json"\n'
            + f"wrk.body = {_lua_string(login_body)}\n",
        ),
    ]


def wrk_command(
    base: str, endpoint: Endpoint, script: Path, connections: int, seconds: float, timeout: str
) -> list[str]:
    return [
        "wrk",
        f"--threads={min(connections, 2)}",
        f"--connections={connections}",
        f"--duration={max(1, round(seconds))}s",
        f"--timeout={timeout}",
        "--latency",
        f"--script={script}",
        base + endpoint.path,
    ]


def run_wrk(command: Sequence[str], seconds: float) -> WrkResult:
    done = subprocess.run(  # noqa: S603 (our own command line)
        command, capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return parse_wrk(done.stdout)
