"""Sign-on: which directory account (CAS, OpenID Connect, LDAP) is which user."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.clock import utcnow
from tracker.extensions import db
from tracker.models.types import UTCDateTime


class SignonIdentity(db.Model):
    """One directory account of a user, and what the directory said at the last sign-in.

    ``granted_roles`` lists the roles the role mapping gave at the last
    sign-in (``"technician@REPAIRS"``): the next sign-in takes back those the
    directory no longer gives, and leaves alone the roles an administrator
    granted by hand.
    """

    __tablename__ = "signon_identities"
    __table_args__ = (UniqueConstraint("provider", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # cas, oidc or ldap.
    provider: Mapped[str] = mapped_column(String(16))
    # The directory's stable id: the CAS user, the OpenID "sub", the LDAP user name.
    subject: Mapped[str] = mapped_column(String(255))
    # Staff or student number (工号/学号) as the directory gave it.
    number: Mapped[str | None] = mapped_column(String(64))
    granted_roles: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sign_in_count: Mapped[int] = mapped_column(default=0)
    # SHA-256 of the last CAS service ticket: CAS's single logout names it
    # (samlp:SessionIndex) when the user logs out of CAS elsewhere.
    session_ticket: Mapped[str | None] = mapped_column(String(64), index=True)

    user = relationship("User")
