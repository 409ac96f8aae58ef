"""Throttle counters keyed by a fixed-size digest of their subject.

A subject (an email, a client address) of any length now fits: the key is the
SHA-256 of the subject, in hex. Counters in flight are dropped: they are windows of
minutes, and their old keys mean nothing under the new scheme.

Revision ID: 0004_attempt_subject_digests
Revises: 0003_password_reset_tokens
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_attempt_subject_digests"
down_revision: str | None = "0003_password_reset_tokens"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("DELETE FROM auth_failures")
    op.alter_column("auth_failures", "subject", type_=sa.String(64), existing_type=sa.String(400))


def downgrade() -> None:
    op.execute("DELETE FROM auth_failures")
    op.alter_column("auth_failures", "subject", type_=sa.String(400), existing_type=sa.String(64))
