"""Beat's heartbeat: one row per scheduler role, written by the beat that holds the lock.

It lives in SQL, not Redis, so `spocc status` can still tell how long beat has been silent
after Redis was lost or restarted empty.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from store.models import Base


class BeatHeartbeat(Base):
    __tablename__ = "beat_heartbeats"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    # host:pid of the beat that wrote it (which of several beats leads).
    holder: Mapped[str] = mapped_column(String(200))
    ticked_at: Mapped[datetime]
