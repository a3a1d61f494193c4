"""Issue 18: a user group no source manages is adopted by a source's POST /Groups, not dead-ended with 409.

Before, a group made in the console, or left by a deleted source, could not be taken over: the
source's filter lookup does not see it (it is scoped to the source, RFC 7644 §3.4.2, and stays so)
and POST /Groups answered 409 because displayName is unique in the organization. Now, as for
members (``portal.core.provisioning._check_linkable``), a POST whose displayName matches an
unmanaged group (``models.norm``: any case, any Unicode form) links it: 201 with the group
(RFC 7644 §3.3), the source as its data source, its externalId and members as the POST states
them (a POST states the whole resource, so members it leaves out are removed, as a PUT would,
§3.5.1), and one Sync log row "link" noting "Linked to the existing group <name>". A group managed
by another existing source, active or not, is still a taken name: 409 uniqueness (§3.12).

Also JumpCloud's documented Test Connection (``idp.JUMPCLOUD_TEST_CONNECTION_SEQUENCE``) replayed
with a test email and test group that another source manages: nothing is taken over nor suspended.
"""

from __future__ import annotations

import unicodedata
from typing import Any

import pytest
import sqlalchemy as sa

from portal.core import members
from portal.core.actors import Actor
from portal.extensions import db
from portal.models import Member, SyncSource, UserGroup, group_members
from tests.conftest import Console
from tests.scim import idp_payloads as idp
from tests.scim.conftest import GROUP_SCHEMA, Scim, SourceData, add_source, assert_scim_error, sync_logs, user

pytestmark = pytest.mark.both_databases

GROUPS = "/organization/groups"


# ---------------------------------------------------------------- helpers


def _console(app: Any, org: Any) -> Console:
    console = Console(app.test_client())
    assert console.login(org.email, org.password).status_code == 302
    return console


def _hand_member(app: Any, org: Any, user_name: str) -> str:
    """A member made in the console (no data source); its SCIM id."""
    with app.app_context():
        member = members.create_member(
            org.id, {"external_id": user_name, "email": user_name, "name": user_name.split("@")[0].title()}, Actor.cli()
        )
        db.session.commit()
        return member.public_id


def _console_group(app: Any, console: Console, name: str, description: str = "", *who: str) -> UserGroup:
    """A user group made in the console, with members added there by email; the row as committed."""
    made = console.post(f"{GROUPS}/new", {"display_name": name, "description": description})
    assert made.status_code in (200, 302), made.get_data(as_text=True)
    group = _group(app, name)
    for email in who:
        added = console.post(f"{GROUPS}/{group.id}/members", {"member": email}, htmx=True)
        assert added.status_code == 200, added.get_data(as_text=True)
    return _group(app, name)


def _group(app: Any, name: str) -> UserGroup:
    with app.app_context():
        group = db.session.scalar(sa.select(UserGroup).where(UserGroup.display_name_norm == name.casefold()))
        assert group is not None, name
        db.session.expunge(group)
        return group


def _groups(app: Any) -> list[tuple[str, str, int | None, str | None, int]]:
    """Every group: (SCIM id, displayName, data source id, externalId, version)."""
    with app.app_context():
        rows = db.session.execute(
            sa.select(
                UserGroup.public_id,
                UserGroup.display_name,
                UserGroup.source_id,
                UserGroup.scim_external_id,
                UserGroup.version,
            ).order_by(UserGroup.id)
        ).all()
        return [tuple(row) for row in rows]


def _member_names(app: Any, public_id: str) -> set[str]:
    with app.app_context():
        return set(
            db.session.scalars(
                sa.select(Member.external_id)
                .join(group_members, group_members.c.member_id == Member.id)
                .join(UserGroup, UserGroup.id == group_members.c.group_id)
                .where(UserGroup.public_id == public_id)
            )
        )


def _source_id(app: Any, source: SourceData) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(SyncSource.id).where(SyncSource.public_id == source.id))


def _cli(runner: Any, *args: str) -> None:
    result = runner.invoke(args=["sync-source", *args])
    assert result.exit_code == 0, result.output


def _post_group(scim: Scim, name: str, *member_ids: str, **attributes: Any) -> Any:
    body = {"schemas": [GROUP_SCHEMA], "displayName": name, "members": [{"value": m} for m in member_ids]}
    body.update(attributes)
    return scim.post("/Groups", body)


# ---------------------------------------------------------------- adoption


def test_console_group_is_linked_by_post_groups_with_the_posts_members_rfc7644_3_3(
    app: Any, org: Any, scim: Scim
) -> None:
    """RFC 7644 §3.3: 201 with the console's group, now managed by the source; a POST states the whole
    resource, so its members replace the console's (the hand-added member is removed), its externalId
    is set, its spelling of the name kept; the console's description stays (no SCIM attribute)."""
    console = _console(app, org)
    _hand_member(app, org, "hand@acme.test")
    ann = scim.create_user("ann@acme.test")
    bob = scim.create_user("bob@acme.test")
    made = _console_group(app, console, "Sales", "The sales team", "hand@acme.test", "ann@acme.test")
    rows_before = len(sync_logs(app))

    response = _post_group(scim, "SALES", ann["id"], bob["id"], externalId="okta-00g1")

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["id"] == made.public_id and body["displayName"] == "SALES" and body["externalId"] == "okta-00g1"
    assert {m["value"] for m in body["members"]} == {ann["id"], bob["id"]}
    assert response.headers["Location"] == body["meta"]["location"]
    assert response.headers["ETag"] == body["meta"]["version"]
    assert _groups(app) == [(made.public_id, "SALES", _source_id(app, scim.source), "okta-00g1", made.version + 1)]
    assert _member_names(app, made.public_id) == {"ann@acme.test", "bob@acme.test"}
    assert _group(app, "Sales").description == "The sales team"

    (row,) = sync_logs(app)[rows_before:]
    assert (row.operation, row.result, row.status_code, row.object_type) == ("link", "success", 201, "group")
    assert (row.object_id, row.object_name) == (made.public_id, "SALES")
    assert row.notes == ["Linked to the existing group Sales"]
    assert row.changes["displayName"] == ["Sales", "SALES"]
    assert row.changes["externalId"] == [None, "okta-00g1"]
    assert row.changes["members added"] == [None, ["bob@acme.test"]]
    assert row.changes["members removed"] == [["hand@acme.test"], None]

    # From now on the group is the source's: visible to its filter lookup, PATCH and DELETE.
    found = scim.get('/Groups?filter=displayName eq "sales"').get_json()
    assert [g["id"] for g in found["Resources"]] == [made.public_id]
    renamed = scim.ops(f"/Groups/{made.public_id}", {"op": "replace", "path": "displayName", "value": "Sales"})
    assert renamed.status_code == 200, renamed.get_json()


def test_post_without_members_leaves_the_linked_group_empty_rfc7644_3_3(app: Any, org: Any, scim: Scim) -> None:
    """The choice, by RFC 7644 §3.3 (the POST is the resource's whole representation) and like a member's link
    (every value replaced): Okta's Group Push POSTs ``"members": []`` and then PATCHes its members in."""
    console = _console(app, org)
    _hand_member(app, org, "hand@acme.test")
    made = _console_group(app, console, "Test SCIMv2", "", "hand@acme.test")
    response = scim.post("/Groups", idp.OKTA_CREATE_GROUP)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["id"] == made.public_id and response.get_json()["members"] == []
    assert _member_names(app, made.public_id) == set()
    assert sync_logs(app)[-1].changes["members removed"] == [["hand@acme.test"], None]


@pytest.mark.parametrize(
    "console_name, posted",
    [
        ("Ärzte", unicodedata.normalize("NFD", "ÄRZTE")),  # composed vs decomposed, and case
        ("Straße", "STRASSE"),  # case folding
        ("Sales", "Ｓａｌｅｓ"),  # fullwidth letters (NFKC)
        ("Sales", " sales\u200b "),  # spaces around, a zero-width space
    ],
    ids=["nfd-upper", "casefold", "fullwidth", "zero-width"],
)
def test_display_name_matches_in_any_case_or_unicode_form_rfc7643_2_1(
    app: Any, org: Any, scim: Scim, console_name: str, posted: str
) -> None:
    """The match is ``models.norm``, the form displayName's uniqueness holds (NFKC_Casefold, zero-width removed)."""
    made = _console_group(app, _console(app, org), console_name)
    response = _post_group(scim, posted)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["id"] == made.public_id
    assert len(_groups(app)) == 1 and sync_logs(app)[-1].operation == "link"


def test_group_left_by_a_deleted_source_is_linked_rfc7644_3_3(
    app: Any, client: Any, runner: Any, org: Any, scim: Scim
) -> None:
    old = Scim(client, add_source(runner, org.name, "--activate", "--name", "Old IdP"))
    ann = old.create_user("ann@acme.test")
    created = _post_group(old, "Engineering", ann["id"], externalId="old-1").get_json()
    _cli(runner, "delete", old.source.id)

    response = _post_group(scim, "Engineering", externalId="new-1")

    assert response.status_code == 201, response.get_json()
    assert response.get_json()["id"] == created["id"]
    ((public_id, name, source_id, external_id, _version),) = _groups(app)
    assert (public_id, name, source_id, external_id) == (
        created["id"],
        "Engineering",
        _source_id(app, scim.source),
        "new-1",
    )
    row = sync_logs(app)[-1]
    assert (row.operation, row.notes) == ("link", ["Linked to the existing group Engineering"])


@pytest.mark.parametrize("state", ["active", "inactive", "this source"])
def test_group_managed_by_an_existing_source_is_a_taken_name_409_rfc7644_3_12(
    app: Any, client: Any, runner: Any, org: Any, scim: Scim, state: str
) -> None:
    """The members' rule (``_check_linkable``): another existing source's group stays with it, active or not."""
    owner = (
        scim if state == "this source" else Scim(client, add_source(runner, org.name, "--activate", "--name", "Okta"))
    )
    ann = owner.create_user("ann@acme.test")
    created = _post_group(owner, "Sales", ann["id"], externalId="okta-1").get_json()
    if state == "inactive":
        _cli(runner, "deactivate", owner.source.id)
    before = _groups(app)

    error = assert_scim_error(_post_group(scim, "sales", externalId="other"), 409, "uniqueness")

    if state != "this source":
        assert f"managed by another {state} sync source (Okta)" in error["detail"]
    assert _groups(app) == before and _member_names(app, created["id"]) == {"ann@acme.test"}
    row = sync_logs(app)[-1]
    assert (row.operation, row.result, row.status_code) == ("create", "failure", 409)


def test_linked_group_is_read_only_in_the_console(app: Any, org: Any, scim: Scim) -> None:
    """Like any synced group: the details drawer has no rename, member or delete form, and the writes are refused."""
    console = _console(app, org)
    _hand_member(app, org, "hand@acme.test")
    made = _console_group(app, console, "Sales", "", "hand@acme.test")
    assert _post_group(scim, "Sales").status_code == 201
    details = console.get(f"{GROUPS}/{made.id}", htmx=True).get_data(as_text=True)
    assert "Memberships come from Generic" in details and "Delete user group" not in details
    for url, form in (
        (f"{GROUPS}/{made.id}/edit", {"display_name": "Renamed"}),
        (f"{GROUPS}/{made.id}/members", {"member": "hand@acme.test"}),
        (f"{GROUPS}/{made.id}/delete", {}),
    ):
        refused = console.post(url, form, htmx=True)
        assert refused.status_code == 422, url
        assert "Delete user group" not in refused.get_data(as_text=True)
    assert "managed by the sync source Generic" in refused.get_data(as_text=True)  # the delete's refusal
    assert _groups(app)[0][1] == "Sales" and _member_names(app, made.public_id) == set()


# ---------------------------------------------------------------- JumpCloud's Test Connection


def _jumpcloud_test_user(email: str) -> dict[str, Any]:
    """JUMPCLOUD_TEST_USER (reconstructed) with this Test User Email, and a displayName: JumpCloud's rule
    "userName must equal the work email" (on for a JumpCloud source) requires one, and the point here is the link."""
    emails = [{"value": email, "type": "work", "primary": True}]
    return {**idp.JUMPCLOUD_TEST_USER, "userName": email, "emails": emails, "displayName": "Test User"}


@pytest.mark.parametrize("removal", ["delete", "deactivate"])
@pytest.mark.parametrize("state", ["active", "inactive"])
def test_jumpcloud_test_connection_never_takes_over_another_sources_member_nor_group_rfc7644_3_3(
    app: Any, client: Any, runner: Any, org: Any, state: str, removal: str
) -> None:
    """JUMPCLOUD_TEST_CONNECTION_SEQUENCE (JumpCloud, 'Important Considerations': a test user with the
    administrator's Test User Email and a test group are created, then deleted, or the user deactivated
    where DELETE is not supported), replayed with the test email of a member and the test group's name of a
    group that another source (active, then inactive) manages: the creates are 409 uniqueness (RFC 7644
    §3.12), the deletes and the deactivation 404 (that source's resources are not JumpCloud's, §3.4.2), and
    the member stays with its source and active, the group untouched."""
    okta = Scim(client, add_source(runner, org.name, "--activate", "--name", "Okta"))
    it = okta.create_user("it@acme.test")
    group = _post_group(okta, "Test Group", it["id"], externalId="okta-g").get_json()
    if state == "inactive":
        _cli(runner, "deactivate", okta.source.id)
    groups_before = _groups(app)
    jumpcloud_source = add_source(runner, org.name, "--activate", "--name", "JumpCloud", "--provider", "jumpcloud")
    jumpcloud = Scim(client, jumpcloud_source)
    # JumpCloud gets no id (its creates are refused): these are the ids it could name at most.
    ids = {"/Users/{id}": it["id"], "/Groups/{id}": group["id"]}
    answers = []
    for step in idp.JUMPCLOUD_TEST_CONNECTION_SEQUENCE:
        method, template = step["method"], step["path"]
        path = template.replace("{id}", ids[template].rsplit("/", 1)[-1]) if template in ids else template
        if method == "POST":
            body = _jumpcloud_test_user("IT@acme.test") if path == "/Users" else {"displayName": "test group"}
            response = jumpcloud.post(path, body)
        elif template == "/Users/{id}" and removal == "deactivate":
            response = jumpcloud.ops(path, {"op": "replace", "path": "active", "value": False})
        else:
            response = jumpcloud.request(method, path)
        answers.append((template, response.status_code, (response.get_json(silent=True) or {}).get("scimType")))

    assert answers == [
        ("/Users", 409, "uniqueness"),
        ("/Groups", 409, "uniqueness"),
        ("/Users/{id}", 404, None),
        ("/Groups/{id}", 404, None),
    ]
    with app.app_context():
        member = db.session.scalar(sa.select(Member).where(Member.public_id == it["id"]))
        assert (member.source_id, member.status) == (_source_id(app, okta.source), "active")
    assert _groups(app) == groups_before and _member_names(app, group["id"]) == {"it@acme.test"}
    jumpcloud_id = _source_id(app, jumpcloud_source)
    assert [(r.operation, r.status_code) for r in sync_logs(app) if r.source_id == jumpcloud_id] == [
        ("create", 409),
        ("create", 409),
        ("update" if removal == "deactivate" else "delete", 404),
        ("delete", 404),
    ]


def test_jumpcloud_test_user_of_a_console_member_is_still_linked_seed_1_2_step_9(
    app: Any, client: Any, runner: Any, org: Any
) -> None:
    """The contrast: an unmanaged (console) member with the test email is linked, as before (seed 1.2 step 9)."""
    _hand_member(app, org, "it@acme.test")
    jumpcloud = Scim(client, add_source(runner, org.name, "--activate", "--provider", "jumpcloud"))
    assert jumpcloud.post("/Users", _jumpcloud_test_user("it@acme.test")).status_code == 201
    assert sync_logs(app)[-1].operation == "link"
    assert jumpcloud.post("/Users", user("it@acme.test")).status_code == 409
