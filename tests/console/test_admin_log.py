"""Compliance > Audit Log > Admin log (seed section 3 "View administrator operation log", issue 4)."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa

from portal.core import departments, sync_sources, workforce
from portal.core.actors import Actor
from portal.extensions import db
from portal.models import Admin, AdminLog, utcnow
from tests.conftest import Console
from tests.factories import make_admin, make_org

pytestmark = pytest.mark.both_databases

URL = "/compliance/audit-log/admin"
SYNC_EVENTS = (
    "Add sync source",
    "Delete sync source",
    "Edit sync configurations",
    "Activate/Deactivate or Stop Sync Settings",
)


def acting(app: Any, admin_id: int, ip: str = "203.0.113.9") -> Actor:
    return Actor.for_admin(db.session.get(Admin, admin_id), ip)


def sync_history(app: Any, org: Any, admin_id: int | None = None, ip: str = "203.0.113.9") -> int:
    """Add sync source, Save and Activate, Deactivate, Refresh token: four entries written by the domain."""
    with app.app_context():
        actor = acting(app, admin_id or org.admin_id, ip)
        source, _ = sync_sources.create_source(org.id, "jumpcloud", actor)
        sync_sources.set_active(org.id, source.id, True, actor)
        sync_sources.set_active(org.id, source.id, False, actor)
        sync_sources.refresh_token(org.id, source.id, actor)
        db.session.commit()
        return source.id


def age_entries(app: Any, days: float, event_type: str | None = None) -> None:
    """Move entries into the past (the clock cannot be moved for the domain functions)."""
    with app.app_context():
        stmt = sa.select(AdminLog)
        if event_type:
            stmt = stmt.where(AdminLog.event_type == event_type)
        for entry in db.session.scalars(stmt):
            entry.created_at -= timedelta(days=days)
        db.session.commit()


def event_rows(html: str) -> list[str]:
    """Event types of the table rows, top to bottom."""
    body = html.split("<tbody>", 1)[1]
    return re.findall(r'<td [^>]*headers="admin-log-col-event">\s*<span class="cell-primary">([^<]*)</span>', body)


def test_default_range_is_the_last_seven_days_newest_first_issue_4(app, org, console):
    sync_history(app, org)
    age_entries(app, 8, "Create organization")
    age_entries(app, 8, "Add administrator")  # the primary's, written with the organization
    response = console.get(URL)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert event_rows(html) == [
        "Refresh token",
        "Activate/Deactivate or Stop Sync Settings",
        "Activate/Deactivate or Stop Sync Settings",
        "Add sync source",
    ]
    start_value = re.search(r'id="admin-log-start" name="start" value="([^"]+)"', html).group(1)
    end_value = re.search(r'id="admin-log-end" name="end" value="([^"]+)"', html).group(1)
    end = datetime.fromisoformat(end_value)
    assert datetime.fromisoformat(start_value) == end - timedelta(days=7)
    assert abs(end - utcnow()) < timedelta(hours=1)


def test_event_type_filter_lists_the_seeds_sync_events_under_their_category_seed_3(app, org, console):
    html = console.get(URL).get_data(as_text=True)
    assert "Settings &gt; Organization Data Sync" in html
    for event in SYNC_EVENTS + ("Refresh token", "Add member", "Edit department"):
        assert f'name="event_type" value="{event}"' in html
    labels = ("Event type", "Administrator", "Start time", "End time", "Search")
    for label in labels:
        assert label in html
    assert re.search(r'<button class="btn btn-primary btn-sm" type="submit"><span>Search</span></button>', html)


def test_filter_by_one_event_type_seed_3(app, org, console):
    sync_history(app, org)
    html = console.get(URL + "?event_type=Add+sync+source").get_data(as_text=True)
    assert event_rows(html) == ["Add sync source"]
    # The choice survives a reload of the pushed URL.
    assert 'value="Add sync source" checked' in html


def test_filter_by_several_event_types(app, org, console):
    sync_history(app, org)
    html = console.get(URL + "?event_type=Add+sync+source&event_type=Refresh+token").get_data(as_text=True)
    assert event_rows(html) == ["Refresh token", "Add sync source"]


def test_filter_by_category_takes_all_its_event_types(app, org, console):
    sync_history(app, org)
    with app.app_context():
        departments.create_department(org.id, "Research", acting(app, org.admin_id))
        db.session.commit()
    html = console.get(URL + "?category=Settings+%3E+Organization+Data+Sync").get_data(as_text=True)
    assert "Add department" not in event_rows(html)
    assert len(event_rows(html)) == 4
    dept = console.get(URL + "?category=Organization+%3E+Member+and+Department").get_data(as_text=True)
    assert event_rows(dept) == ["Add department"]


def test_filter_by_administrator_seed_3(app, org, console):
    helper = make_admin(app, org, "helper@acme.test", {"org_data_sync"})
    sync_history(app, org)
    with app.app_context():
        source, _ = sync_sources.create_source(org.id, "okta", acting(app, helper))
        db.session.commit()
    html = console.get(URL + f"?admin={helper}").get_data(as_text=True)
    assert event_rows(html) == ["Add sync source"]
    assert "helper@acme.test" in html.split("<tbody>", 1)[1]
    assert "owner@acme.test" not in html.split("<tbody>", 1)[1]
    assert f'<option value="{helper}" selected>' in html


def test_search_matches_object_administrator_and_summary(app, org, console):
    with app.app_context():
        actor = acting(app, org.admin_id)
        departments.create_department(org.id, "Quantum Research", actor)
        departments.create_department(org.id, "Sales", actor)
        db.session.commit()
    html = console.get(URL + "?q=quantum").get_data(as_text=True)
    assert event_rows(html) == ["Add department"]
    assert "Quantum Research" in html


def test_start_and_end_time_bound_the_results_seed_3(app, org, console):
    sync_history(app, org)
    age_entries(app, 20, "Add sync source")
    now = utcnow()
    start = (now - timedelta(days=25)).strftime("%Y-%m-%dT%H:%M")
    end = (now - timedelta(days=15)).strftime("%Y-%m-%dT%H:%M")
    html = console.get(URL + f"?start={start}&end={end}").get_data(as_text=True)
    assert event_rows(html) == ["Add sync source"]


def test_a_range_longer_than_180_days_is_a_form_message_issue_4(app, org, console):
    sync_history(app, org)
    response = console.get(URL + "?start=2026-01-01T00:00&end=2026-07-01T00:00")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "One query can span at most 180 days." in html
    assert 'id="admin-log-end-error"' in html
    assert event_rows(html) == []
    assert console.get(URL + "/export.csv?start=2026-01-01T00:00&end=2026-07-01T00:00").status_code == 400


def test_a_range_of_exactly_180_days_is_accepted(app, org, console):
    assert console.get(URL + "?start=2026-01-01T00:00&end=2026-06-30T00:00").status_code == 200


@pytest.mark.parametrize(
    "query,message",
    [
        ("?start=2026-01-01T00:00&end=", "Enter the end time."),
        ("?start=&end=2026-01-01T00:00", "Enter the start time."),
        ("?start=yesterday&end=2026-01-01T00:00", "Enter the start time as a date and time"),
        ("?start=2026-02-01T00:00&end=2026-01-01T00:00", "The end time must be after the start time."),
    ],
)
def test_start_and_end_time_are_required_and_checked(app, org, console, query, message):
    response = console.get(URL + query)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)


def test_results_are_paginated_in_sql_with_the_total(app, org, console):
    with app.app_context():
        actor = acting(app, org.admin_id)
        for i in range(30):
            departments.create_department(org.id, f"Team {i:02d}", actor)
        db.session.commit()
    first = console.get(URL + "?event_type=Add+department").get_data(as_text=True)
    assert "30 events" in first
    assert len(event_rows(first)) == 25
    second = console.get(URL + "?event_type=Add+department&page=2").get_data(as_text=True)
    assert len(event_rows(second)) == 5
    assert "Team 00" in second and "Team 29" not in second
    # Page links repeat the same query, time range included.
    assert re.search(
        r'href="/compliance/audit-log/admin\?page=2&amp;event_type=Add\+department&amp;start=[^"]+&amp;end=', first
    )


def test_details_show_who_when_where_and_the_field_by_field_change_seed_3(app, org, console):
    sync_history(app, org, ip="203.0.113.77")
    with app.app_context():
        entry_id = db.session.scalar(sa.select(AdminLog.id).where(AdminLog.event_type == "Refresh token"))
        deactivate_id = db.session.scalar(
            sa.select(AdminLog.id)
            .where(AdminLog.event_type == "Activate/Deactivate or Stop Sync Settings")
            .order_by(AdminLog.id.desc())
        )
    response = console.get(f"{URL}/{entry_id}", htmx=True)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<html" not in html and "Admin log details" in html
    assert "owner@acme.test" in html and "203.0.113.77" in html
    assert "Settings &gt; Organization Data Sync" in html and "JumpCloud" in html
    html = console.get(f"{URL}/{deactivate_id}", htmx=True).get_data(as_text=True)
    assert re.search(
        r'<th scope="row" class="mono">Status</th>\s*'
        r'<td class="diff-before"><span class="diff-value">active</span></td>\s*'
        r'<td class="diff-after"><span class="diff-value">inactive</span>',
        html,
    )
    page = console.get(f"{URL}/{deactivate_id}").get_data(as_text=True)
    assert "<html" in page and "203.0.113.77" in page


def test_csv_export_has_the_filtered_entries_and_neutralises_formulas_issue_4(app, org, console):
    with app.app_context():
        actor = acting(app, org.admin_id)
        departments.create_department(org.id, "=cmd|' /C calc'!A0", actor)
        departments.create_department(org.id, "+Plus", actor)
        sync_sources.create_source(org.id, "okta", actor)
        db.session.commit()
    response = console.get(URL + "/export.csv?event_type=Add+department")
    assert response.status_code == 200 and response.mimetype == "text/csv" and response.is_streamed
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    assert rows[0] == [
        "Time (UTC)",
        "Category",
        "Event type",
        "Administrator",
        "IP address",
        "Object type",
        "Object",
        "Summary",
        "Changes",
    ]
    assert [r[2] for r in rows[1:]] == ["Add department", "Add department"]
    assert rows[1][6] == "'+Plus" and rows[2][6] == "'=cmd|' /C calc'!A0"
    assert rows[1][3] == "owner@acme.test" and rows[1][4] == "203.0.113.9"
    assert "Name: (empty) -> +Plus" in rows[1][8]


def test_the_export_link_carries_the_filters(app, org, console):
    html = console.get(URL + "?event_type=Refresh+token&q=x").get_data(as_text=True)
    assert re.search(
        r'href="/compliance/audit-log/admin/export.csv\?event_type=Refresh\+token&amp;q=x&amp;start=', html
    )


def test_an_admin_without_the_admin_log_permission_gets_403_and_no_nav_link_seed_3(app, org, client):
    sync_history(app, org)
    make_admin(app, org, "sync@acme.test", {"org_data_sync"})
    c = Console(client)
    assert c.login("sync@acme.test", "another long password").status_code == 302
    with app.app_context():
        entry_id = db.session.scalar(sa.select(AdminLog.id).limit(1))
    for path in (URL, f"{URL}/{entry_id}", URL + "/export.csv"):
        assert c.get(path).status_code == 403
    assert f'href="{URL}"' not in c.get("/settings/directory-sync/").get_data(as_text=True)


def test_an_admin_with_the_admin_log_permission_reads_it_seed_3(app, org, client):
    sync_history(app, org)
    make_admin(app, org, "auditor@acme.test", {"admin_log"})
    c = Console(client)
    assert c.login("auditor@acme.test", "another long password").status_code == 302
    html = c.get(URL).get_data(as_text=True)
    assert f'href="{URL}"' in html
    assert "Add sync source" in event_rows(html)


def test_another_organizations_entries_never_show(app, org, console):
    other = make_org(app, "Globex", "owner@globex.test")
    sync_history(app, other)
    with app.app_context():
        other_entry = db.session.scalar(sa.select(AdminLog.id).where(AdminLog.org_id == other.id).limit(1))
    html = console.get(URL).get_data(as_text=True)
    assert event_rows(html) == ["Create organization", "Add administrator"]  # of this organization only
    assert "owner@globex.test" not in html
    assert console.get(f"{URL}/{other_entry}").status_code == 404
    # Another organization's administrator is not offered and not accepted as a filter.
    assert f'<option value="{other.admin_id}"' not in html
    assert event_rows(console.get(URL + f"?admin={other.admin_id}").get_data(as_text=True)) == [
        "Create organization",
        "Add administrator",
    ]
    exported = console.get(URL + "/export.csv").get_data().decode("utf-8-sig")
    assert "owner@globex.test" not in exported and "Globex" not in exported


def test_entries_cannot_be_edited_or_deleted_from_the_console_issue_4(app, org, console):
    sync_history(app, org)
    with app.app_context():
        entry_id = db.session.scalar(sa.select(AdminLog.id).limit(1))
    assert console.post(f"{URL}/{entry_id}", {"event_type": "x"}).status_code == 405
    assert console.client.delete(f"{URL}/{entry_id}").status_code == 405
    assert console.client.put(f"{URL}/{entry_id}").status_code == 405
    assert console.post(URL).status_code == 405
    rules = [r for r in console.client.application.url_map.iter_rules() if r.endpoint.startswith("admin_log.")]
    assert all(r.methods <= {"GET", "HEAD", "OPTIONS"} for r in rules)


def test_object_names_are_escaped_not_run(app, org, console):
    with app.app_context():
        departments.create_department(org.id, "<img src=x onerror=alert(1)>", acting(app, org.admin_id))
        db.session.commit()
        entry_id = db.session.scalar(sa.select(AdminLog.id).where(AdminLog.event_type == "Add department"))
    for html in (
        console.get(URL).get_data(as_text=True),
        console.get(f"{URL}/{entry_id}", htmx=True).get_data(as_text=True),
    ):
        assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_htmx_gets_the_panel_and_a_reload_the_full_page(app, org, console):
    sync_history(app, org)
    fragment = console.get(URL + "?event_type=Add+sync+source", htmx=True)
    body = fragment.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="log-panel"') and "<html" not in body
    assert event_rows(body) == ["Add sync source"]
    page = console.get(URL + "?event_type=Add+sync+source").get_data(as_text=True)
    assert "<html" in page and event_rows(page) == ["Add sync source"]


def test_each_organization_data_sync_event_type_filters_its_entries_seed_3(app, org, console):
    with app.app_context():
        actor = acting(app, org.admin_id)
        source, _ = sync_sources.create_source(org.id, "jumpcloud", actor)
        regular = next(wt for wt in workforce.workforce_types(org.id) if wt.name == "regular employee")
        sync_sources.configure_source(
            org.id, source.id, actor, workforce_rules=[{"value": "Regular", "workforce_type_id": regular.id}]
        )
        sync_sources.set_active(org.id, source.id, True, actor)
        sync_sources.delete_source(org.id, source.id, actor)
        db.session.commit()
    for event in SYNC_EVENTS:
        html = console.get(URL + "?" + urlencode({"event_type": event})).get_data(as_text=True)
        assert event_rows(html) == [event], event
    # The details of an edit show each changed setting before and after; an empty list reads "(empty)".
    with app.app_context():
        entry_id = db.session.scalar(sa.select(AdminLog.id).where(AdminLog.event_type == "Edit sync configurations"))
    html = console.get(f"{URL}/{entry_id}", htmx=True).get_data(as_text=True)
    assert re.search(
        r'>Workforce rules</th>\s*<td class="diff-before"><span class="diff-empty">\(empty\)</span></td>\s*'
        r'<td class="diff-after"><span class="diff-value">Regular = regular employee</span>',
        html,
    )


def test_search_takes_like_wildcards_literally(app, org, console):
    with app.app_context():
        actor = acting(app, org.admin_id)
        departments.create_department(org.id, "R_D", actor)
        departments.create_department(org.id, "RxD", actor)
        db.session.commit()
    html = console.get(URL + "?q=R_D").get_data(as_text=True)
    assert "R_D" in html and "RxD" not in html
    assert event_rows(console.get(URL + "?q=%25").get_data(as_text=True)) == []
