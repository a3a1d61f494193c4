"""Token expiry warnings (issue 14): 14, 7 and 1 day ahead and on the day, once each, to every sync admin."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from portal.core import sync_sources, token_expiry
from portal.core.actors import Actor
from portal.extensions import db
from portal.models import Admin, Notification, SyncSource, utcnow
from tests.directory_support import make_source
from tests.factories import make_admin

pytestmark = pytest.mark.both_databases

#: the day the tests' token expires, at 15:30 UTC
EXPIRY_DAY = date(2031, 3, 15)
EXPIRES = datetime.combine(EXPIRY_DAY, time(15, 30))


def _at(days_before: int, hour: int = 6) -> datetime:
    """The job's run ``days_before`` the expiry date (negative: after it), at ``hour`` UTC."""
    return datetime.combine(EXPIRY_DAY - timedelta(days=days_before), time(hour))


def _expire_at(app: Any, source_id: int, expires: datetime) -> None:
    with app.app_context():
        db.session.get(SyncSource, source_id).token_expires_at = expires
        db.session.commit()


def _run(app: Any, now: datetime) -> int:
    with app.app_context():
        return token_expiry.warn_expiring_tokens(now)


def _titles(app: Any, admin_id: int | None = None) -> list[str]:
    with app.app_context():
        query = select(Notification.title).order_by(Notification.id)
        if admin_id is not None:
            query = query.where(Notification.admin_id == admin_id)
        return list(db.session.scalars(query))


@pytest.fixture
def source_id(app: Any, org: Any) -> int:
    source_id = make_source(app, org.id, name="Okta")
    _expire_at(app, source_id, EXPIRES)
    return source_id


@pytest.mark.parametrize(
    "days_before, title",
    [
        (14, "Okta: Token expires in 14 days"),
        (7, "Okta: Token expires in 7 days"),
        (1, "Okta: Token expires in 1 day"),
        (0, "Okta: Token expires today"),
    ],
)
def test_each_threshold_warns_on_its_day(app, org, source_id, days_before, title):
    assert _run(app, _at(days_before)) == 1
    assert _titles(app) == [title]
    with app.app_context():
        note = db.session.scalar(select(Notification))
        assert note.admin_id == org.admin_id and note.kind == "token_expiring" and note.source_id == source_id
        assert note.link == f"/settings/directory-sync/{source_id}"
        assert "Mar 15, 2031 15:30 UTC" in note.body


def test_nothing_is_sent_more_than_14_days_ahead(app, source_id):
    assert _run(app, _at(15, hour=23)) == 0
    assert _titles(app) == []


def test_the_day_after_expiry_says_expired(app, source_id):
    assert _run(app, _at(-1)) == 1
    assert _titles(app) == ["Okta: Token expired"]


def test_a_whole_lifetime_sends_each_warning_once(app, org, source_id):
    """A job running twice a day from 20 days before to 3 days after: four warnings, each once."""
    for days_before in range(20, -4, -1):
        for hour in (6, 18):
            _run(app, _at(days_before, hour))
    assert _titles(app) == [
        "Okta: Token expires in 14 days",
        "Okta: Token expires in 7 days",
        "Okta: Token expires in 1 day",
        "Okta: Token expires today",
    ]
    with app.app_context():
        assert {n.count for n in db.session.scalars(select(Notification))} == {1}


def test_each_warning_is_emailed_once_to_each_sync_admin(app, org, source_id):
    from portal.models import OutboxMessage

    sync_admin = make_admin(app, org, "sync@acme.test", {"org_data_sync"})
    app.config.update(SMTP_URL="smtp://127.0.0.1:2525", JOBS_URL="memory://")
    _run(app, _at(7))
    _run(app, _at(7, hour=18))
    with app.app_context():
        mails = [(m.payload["to"], m.payload["subject"]) for m in db.session.scalars(select(OutboxMessage))]
        states = set(db.session.scalars(select(Notification.email_status)))
    subject = "Okta: Token expires in 7 days"
    assert sorted(mails) == sorted([(org.email, subject), ("sync@acme.test", subject)])
    assert states == {"queued"} and sync_admin


def test_a_second_run_leaves_a_read_warning_read(app, org, source_id):
    _run(app, _at(7))
    with app.app_context():
        note = db.session.scalar(select(Notification))
        note.read_at = utcnow()
        db.session.commit()
    assert _run(app, _at(7, hour=18)) == 0
    with app.app_context():
        note = db.session.scalar(select(Notification))
        assert note.read_at is not None and note.count == 1


def test_catching_up_sends_only_the_most_urgent_warning(app, source_id):
    # The job did not run for two weeks: the 14- and 7-day warnings are not sent late.
    assert _run(app, _at(1)) == 1
    assert _titles(app) == ["Okta: Token expires in 1 day"]
    # And a job that comes back after the expiry tells only that.
    _expire_at(app, source_id, EXPIRES + timedelta(days=30))
    assert _run(app, datetime.combine(EXPIRY_DAY + timedelta(days=33), time(6))) == 1
    assert _titles(app)[-1] == "Okta: Token expired"


def test_a_refreshed_token_is_warned_afresh(app, org, source_id):
    _run(app, _at(7))
    with app.app_context():
        sync_sources.refresh_token(org.id, source_id, Actor.cli())
        db.session.commit()
    # The new token expires one minute later than the old one: a new token, so new warnings.
    _expire_at(app, source_id, EXPIRES + timedelta(minutes=1))
    assert _run(app, _at(7, hour=18)) == 1
    assert _titles(app) == ["Okta: Token expires in 7 days"] * 2


def test_every_sync_admin_is_warned_and_nobody_else(app, org):
    sync_admin = make_admin(app, org, "sync@acme.test", {"org_data_sync"})
    directory_admin = make_admin(app, org, "dir@acme.test", {"directory"})
    gone = make_admin(app, org, "gone@acme.test", {"org_data_sync"})
    with app.app_context():
        db.session.get(Admin, gone).active = False
        db.session.commit()
    # The source's own notification setting names nobody: token warnings go to every sync admin anyway.
    source_id = make_source(app, org.id, name="Okta", notified_admin_ids=[directory_admin])
    _expire_at(app, source_id, EXPIRES)
    assert _run(app, _at(14)) == 2
    with app.app_context():
        told = set(db.session.scalars(select(Notification.admin_id)))
    assert told == {org.admin_id, sync_admin}


def test_an_admin_given_the_permission_later_gets_the_current_warning(app, org, source_id):
    _run(app, _at(7))
    later = make_admin(app, org, "later@acme.test", {"org_data_sync"})
    assert _run(app, _at(7, hour=18)) == 1
    assert _titles(app, later) == ["Okta: Token expires in 7 days"]
    assert _titles(app, org.admin_id) == ["Okta: Token expires in 7 days"]


def test_inactive_draft_and_deleted_sources_are_not_warned(app, org):
    inactive = make_source(app, org.id, name="Inactive")
    deleted = make_source(app, org.id, name="Deleted")
    with app.app_context():
        draft, _ = sync_sources.create_source(org.id, "okta", Actor.cli(), name="Draft")
        db.session.commit()
        draft_id = draft.id
        sync_sources.set_active(org.id, inactive, False, Actor.cli())
        sync_sources.delete_source(org.id, deleted, Actor.cli())
        db.session.commit()
    for source_id in (inactive, deleted, draft_id):
        _expire_at(app, source_id, EXPIRES)
    assert _run(app, _at(1)) == 0
    assert _titles(app) == []


def test_the_warning_is_on_the_notifications_page_and_the_card_says_the_same(app, console, org):
    source_id = make_source(app, org.id, name="Okta")
    # Noon on the date 7 days from today: 7 calendar days, whatever the time now.
    _expire_at(app, source_id, datetime.combine(utcnow().date() + timedelta(days=7), time(12)))
    assert _run(app, utcnow()) == 1
    page = console.get("/notifications/").get_data(as_text=True)
    assert "Okta: Token expires in 7 days" in page
    assert "Refresh the token and enter the new one in the identity provider" in page
    assert "View sync source" in page  # its link opens the source's page, where the token is refreshed
    with app.app_context():
        note_id = db.session.scalar(select(Notification.id))
    opened = console.post(f"/notifications/{note_id}/open")
    assert opened.status_code == 302 and opened.headers["Location"].endswith(f"/settings/directory-sync/{source_id}")
    card = console.get("/settings/directory-sync/").get_data(as_text=True)
    assert "Token expires in 7 days" in card


def test_the_card_says_token_expired_as_the_warning_does(app, console, org):
    source_id = make_source(app, org.id, name="Okta")
    _expire_at(app, source_id, utcnow() - timedelta(days=2))
    assert _run(app, utcnow()) == 1
    assert "Okta: Token expired" in console.get("/notifications/").get_data(as_text=True)
    assert "Token expired" in console.get("/settings/directory-sync/").get_data(as_text=True)


def test_seconds_until_expiry_lists_active_sources_only(app, org, source_id):
    inactive = make_source(app, org.id, name="Inactive")
    with app.app_context():
        sync_sources.set_active(org.id, inactive, False, Actor.cli())
        db.session.commit()
        assert token_expiry.seconds_until_expiry(_at(1, hour=15)) == {source_id: 86400 + 30 * 60}
