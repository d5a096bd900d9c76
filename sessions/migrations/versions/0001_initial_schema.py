"""Initial schema: patients, sessions, analysis versions, reps, metrics, landmark series, kept videos.

Revision ID: 0001
Revises:
Create Date: 2026-11-21

Self-contained on purpose (plain SQLAlchemy types, no imports from the application), so later changes to the
models never change what this revision does.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _time() -> sa.types.TypeEngine:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "patients",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("affected_side", sa.String(length=8), nullable=True),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patients")),
    )
    op.create_table(
        "sessions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=True),
        sa.Column("exercise", sa.String(length=64), nullable=False),
        sa.Column("hand", sa.String(length=8), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("recorded_at", _time(), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("video_path", sa.Text(), nullable=False),
        sa.Column("video_sha256", sa.String(length=64), nullable=True),
        sa.Column("software_version", sa.String(length=64), nullable=False),
        sa.Column("detection_rate", sa.Float(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("tracking_warnings", _json(), nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_sessions_patient_id_patients"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sessions")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_sessions_idempotency_key")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_sessions_exercise"), "sessions", ["exercise"])
    op.create_index(op.f("ix_sessions_patient_id"), "sessions", ["patient_id"])
    op.create_index(op.f("ix_sessions_recorded_at"), "sessions", ["recorded_at"])
    op.create_index(op.f("ix_sessions_video_sha256"), "sessions", ["video_sha256"])

    op.create_table(
        "analysis_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("changes", _json(), nullable=True),
        sa.Column("params", _json(), nullable=True),
        sa.Column("manual_reps", _json(), nullable=True),
        sa.Column("software_version", sa.String(length=64), nullable=False),
        sa.Column("rep_count", sa.Integer(), nullable=False),
        sa.Column("detection_rate", sa.Float(), nullable=False),
        sa.Column("result", _json(), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.id"], name=op.f("fk_analysis_versions_session_id_sessions"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analysis_versions")),
        sa.UniqueConstraint("session_id", "version", name=op.f("uq_analysis_versions_session_id")),
    )
    op.create_index(op.f("ix_analysis_versions_session_id"), "analysis_versions", ["session_id"])

    op.create_table(
        "landmark_series",
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("frames", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.id"], name=op.f("fk_landmark_series_session_id_sessions"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_landmark_series")),
    )
    op.create_table(
        "videos",
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=True),
        sa.Column("file", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.id"], name=op.f("fk_videos_session_id_sessions"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_videos")),
    )
    op.create_table(
        "metrics",
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("text", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["analysis_versions.id"],
            name=op.f("fk_metrics_version_id_analysis_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("version_id", "name", name=op.f("pk_metrics")),
    )
    op.create_table(
        "reps",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("start_s", sa.Float(), nullable=True),
        sa.Column("end_s", sa.Float(), nullable=True),
        sa.Column("peak_s", sa.Float(), nullable=True),
        sa.Column("fields", _json(), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"], ["analysis_versions.id"], name=op.f("fk_reps_version_id_analysis_versions"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reps")),
    )
    op.create_index(op.f("ix_reps_version_id"), "reps", ["version_id"])


def downgrade() -> None:
    for table in ("reps", "metrics", "videos", "landmark_series", "analysis_versions", "sessions", "patients"):
        op.drop_table(table)
