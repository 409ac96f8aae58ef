"""Request bodies and the HTTP-only responses, named as in the spec.

The shapes of users, chats and messages, which the CLI prints too, are in
``entrypoints/shapes.py``.
"""

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from adapters.email_addresses import normalize_email_address
from domain.errors import InvalidInput


def _storable(text: str) -> str:
    """Refuse what PostgreSQL cannot store: NUL characters and unpaired surrogates."""
    if "\x00" in text:
        raise ValueError("must not contain a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode (no unpaired surrogates)") from None
    return text


Text = Annotated[str, AfterValidator(_storable)]


def _valid_email(email: str) -> str:
    """The rule every path applies (``EmailRule``), here too so a 422 names the field."""
    try:
        normalize_email_address(email)
    except InvalidInput as error:
        raise ValueError(str(error)) from None
    return email


Email = Annotated[
    Text,
    Field(max_length=320, json_schema_extra={"format": "email"}),
    AfterValidator(_valid_email),
]


class _Body(BaseModel):
    # Unknown fields are an error, not silently dropped: a typo should not "work".
    model_config = ConfigDict(extra="forbid")


_PASSWORD_RULE = "8 to 128 characters, any characters; very common passwords are refused."


class UserCreate(_Body):
    email: Email
    password: Text = Field(min_length=8, max_length=128, description=_PASSWORD_RULE)


class UserLogin(_Body):
    email: Text = Field(min_length=1, max_length=320)
    password: Text = Field(min_length=1, max_length=1024)


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the access token expires.")
    refresh_token: str = Field(
        description="Single use: POST it to /auth/refresh for new tokens (keep it secret)."
    )
    refresh_expires_in: int = Field(
        description="Seconds until the session ends unless refreshed (each refresh restarts it)."
    )


class RefreshRequest(_Body):
    # Not bounded like a password: a token that is not ours is a 401, not a 422.
    refresh_token: Text = Field(max_length=4096, description="The latest refresh token.")


class PasswordChange(_Body):
    current_password: Text = Field(min_length=1, max_length=1024)
    new_password: Text = Field(min_length=8, max_length=128, description=_PASSWORD_RULE)


class PasswordResetRequest(_Body):
    email: Text = Field(min_length=1, max_length=320)


class PasswordResetAccepted(BaseModel):
    detail: str = Field(
        default=(
            "If an account uses this email, a message with a reset token is on its way. "
            "It works once, for a limited time."
        ),
        description="The same text whether or not the email has an account.",
    )


class PasswordResetConfirm(_Body):
    token: Text = Field(
        min_length=1, max_length=256, description="The token from the reset e-mail (token=...)."
    )
    new_password: Text = Field(
        min_length=8,
        max_length=128,
        description="8 to 128 characters, any characters; very common passwords are refused.",
    )


class AccountDelete(_Body):
    password: Text = Field(min_length=1, max_length=1024, description="The current password.")


# Length bounds on titles and contents are settings, enforced by the domain (422).
class ChatCreate(_Body):
    title: Text | None = Field(
        default=None,
        description='At most 200 characters (MAX_TITLE_CHARS); "New chat" when absent or blank.',
    )


class ChatUpdate(_Body):
    title: Text = Field(description="At most 200 characters (MAX_TITLE_CHARS).")


class MessageCreate(_Body):
    content: Text = Field(
        description="Not blank; at most 32,000 characters (MAX_CONTENT_CHARS).",
    )


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str = Field(description="What went wrong, for a person to read.")
    instance: str | None = None
    request_id: str | None = None
    errors: list[dict[str, Any]] | None = Field(
        default=None,
        description="On every 422: where (`loc`), what (`msg`) and which rule (`type`).",
    )
