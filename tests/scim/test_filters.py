"""The filter translator (RFC 7644 §3.4.2.2): SCIM filter text -> SQLAlchemy condition, run by the database."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import select

from portal.extensions import db
from portal.models import Member, UserGroup
from scim_blueprint import filters
from tests.scim.rows import add_group, add_member, source_row

pytestmark = pytest.mark.both_databases

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


@pytest.fixture
def people(app: Any, org: Any, source: Any) -> Any:
    """Ann (title, department, phone, address, group), Bob (suspended), Cara (managed by Ann); one other org."""
    with app.app_context():
        source_id = source_row(source.id).id
        ann = add_member(
            org.id,
            source_id,
            "ann@acme.com",
            name="Ann Lee",
            first_name="Ann",
            last_name="Lee",
            title="Engineer",
            department="Sales",
            employee_id="E100",
            mobile="+1 555 0100",
            work_country="FR",
            user_type="Regular",
            scim_external_id="okta-ann",
            another_name="Annie",
            created_at=datetime(2020, 1, 1, 12, 0, 0),
        )
        bob = add_member(
            org.id,
            source_id,
            "Bob@Acme.com",
            name="Bob Stone",
            title="Manager",
            department="Engineering",
            employee_id="4711",
            status="inactive",
        )
        cara = add_member(org.id, source_id, "cara@example.org", name="Cara", manager=ann)
        admins = add_group(org.id, source_id, "Admins", [ann], scim_external_id="grp-1")
        add_group(org.id, source_id, "Everyone", [ann, bob, cara])
        db.session.commit()
        yield {"ann": ann.public_id, "bob": bob.public_id, "cara": cara.public_id, "admins": admins.public_id}


def users(text: str) -> set[str]:
    """The first names (lower-cased userName's local part) of the members a filter matches."""
    rows = db.session.scalars(select(Member.external_id).where(filters.to_sql("User", text)))
    return {row.split("@")[0].lower() for row in rows}


def groups(text: str) -> set[str]:
    return set(db.session.scalars(select(UserGroup.display_name).where(filters.to_sql("Group", text))))


@pytest.mark.parametrize(
    "text, expected",
    [
        ('userName eq "ANN@ACME.COM"', {"ann"}),
        ('USERNAME Eq "bob@acme.com"', {"bob"}),
        ('emails.value eq "BOB@ACME.COM"', {"bob"}),
        ('userName ne "ann@acme.com"', {"bob", "cara"}),
        ('userName co "ACME"', {"ann", "bob"}),
        ('userName sw "b"', {"bob"}),
        ('userName ew ".org"', {"cara"}),
        ('userName gt "b"', {"bob", "cara"}),
        ('userName ge "bob@acme.com"', {"bob", "cara"}),
        ('userName lt "b"', {"ann"}),
        ('userName le "bob@acme.com"', {"ann", "bob"}),
        ('displayName eq "ann lee"', {"ann"}),
        ('name.givenName eq "ANN"', {"ann"}),
        ('name.familyName sw "l"', {"ann"}),
        ("nickName pr", {"ann"}),
        ("title pr", {"ann", "bob"}),
        ('title eq "engineer"', {"ann"}),
        ('userType eq "regular"', {"ann"}),
        ("id pr", {"ann", "bob", "cara"}),
    ],
)
def test_operators_and_case_insensitive_names_rfc7644_3_4_2_2(
    app: Any, people: Any, text: str, expected: set[str]
) -> None:
    with app.app_context():
        assert users(text) == expected


def test_id_and_external_id_are_case_exact_rfc7643_3_1(app: Any, people: Any) -> None:
    with app.app_context():
        assert users(f'id eq "{people["ann"]}"') == {"ann"}
        assert users('externalId eq "okta-ann"') == {"ann"}
        assert users('externalId eq "OKTA-ANN"') == set()


def test_active_accepts_json_and_string_booleans_rfc7643_4_1_1(app: Any, people: Any) -> None:
    with app.app_context():
        assert users("active eq false") == {"bob"}
        assert users('active eq "True"') == {"ann", "cara"}
        assert users("active ne true") == {"bob"}


def test_and_binds_tighter_than_or_rfc7644_3_4_2_2(app: Any, people: Any) -> None:
    with app.app_context():
        # cara OR (Engineer AND suspended): left-to-right evaluation would give nobody.
        assert users('userName eq "cara@example.org" or title eq "Engineer" and active eq false') == {"cara"}
        assert users('title eq "Engineer" and active eq false or userName eq "cara@example.org"') == {"cara"}
        assert users('(userName eq "cara@example.org" or title eq "Engineer") and active eq true') == {"ann", "cara"}


def test_not_includes_resources_without_the_attribute_rfc7644_3_4_2_2(app: Any, people: Any) -> None:
    with app.app_context():
        assert users("not (title pr)") == {"cara"}
        assert users('not (nickName eq "Annie")') == {"bob", "cara"}
        assert users('not (userName sw "a" or userName sw "b")') == {"cara"}


def test_value_path_filters_rfc7644_3_4_2_2(app: Any, people: Any) -> None:
    with app.app_context():
        assert users('emails[type eq "work" and value co "@acme.com"]') == {"ann", "bob"}
        assert users('emails[type eq "home"]') == set()
        assert users('emails[type eq "work"].value eq "BOB@acme.com"') == {"bob"}
        assert users('addresses[type eq "work" and country eq "fr"]') == {"ann"}
        assert users("addresses.country pr") == {"ann"}
        assert users('phoneNumbers[type eq "work"]') == {"ann"}
        assert users('phoneNumbers[type eq "work"].value sw "+1"') == {"ann"}
        assert users('groups[display eq "admins"]') == {"ann"}
        assert users(f'groups.value eq "{people["admins"]}"') == {"ann"}
        assert users('groups[display eq "Everyone" and value eq "nope"]') == set()
        assert users('emails[type eq "work"] and userName sw "b"') == {"bob"}
        assert users('not (phoneNumbers[type eq "work"])') == {"bob", "cara"}
        assert users('groups[display eq "Admins"] or groups[display eq "nobody"] and active eq true') == {"ann"}
        assert users('userName sw "a" and (title pr or nickName pr) and not (active eq false)') == {"ann"}


def test_enterprise_urn_qualified_attributes_rfc7643_4_3(app: Any, people: Any) -> None:
    with app.app_context():
        assert users(f'{ENTERPRISE}:employeeNumber eq "e100"') == {"ann"}
        assert users(f'{ENTERPRISE}:department eq "sales"') == {"ann"}
        assert users('department eq "Engineering"') == {"bob"}
        assert users(f'{ENTERPRISE}:manager.value eq "{people["ann"]}"') == {"cara"}
        assert users(f'{ENTERPRISE}:manager.displayName eq "Ann Lee"') == {"cara"}
        assert users(f"{ENTERPRISE}:manager pr") == {"cara"}
        assert users('urn:ietf:params:scim:schemas:core:2.0:User:userName eq "ann@acme.com"') == {"ann"}
        # A multi-digit number (the library lexes one digit per token).
        assert users("employeeNumber eq 4711") == {"bob"}


def test_meta_dates_compare_chronologically_rfc7644_3_4_2_2(app: Any, people: Any) -> None:
    with app.app_context():
        assert users('meta.created lt "2021-01-01T00:00:00Z"') == {"ann"}
        assert users('meta.created eq "2020-01-01T14:00:00+02:00"') == {"ann"}
        assert users('meta.lastModified gt "2021-01-01T00:00:00.000Z"') == {"ann", "bob", "cara"}
        assert users('meta.resourceType eq "User"') == {"ann", "bob", "cara"}


def test_filter_by_schemas_rfc7644_3_4_2_2(app: Any, people: Any) -> None:
    with app.app_context():
        assert users(f'schemas eq "{ENTERPRISE.upper()}"') == {"ann", "bob", "cara"}
        assert users('schemas eq "urn:ietf:params:scim:schemas:core:2.0:Group"') == set()
        assert groups('schemas eq "urn:ietf:params:scim:schemas:core:2.0:Group"') == {"Admins", "Everyone"}
        assert groups('not (schemas co "User")') == {"Admins", "Everyone"}


def test_like_wildcards_are_literal_rfc7644_3_4_2_2(app: Any, people: Any) -> None:
    with app.app_context():
        assert users('userName co "%"') == set()
        assert users('userName co "_"') == set()


def test_group_filters_rfc7643_4_2(app: Any, people: Any) -> None:
    with app.app_context():
        assert groups('displayName eq "ADMINS"') == {"Admins"}
        assert groups(f'members[value eq "{people["bob"]}"]') == {"Everyone"}
        assert groups(f'members.value eq "{people["ann"]}"') == {"Admins", "Everyone"}
        assert groups('members.display co "cara"') == {"Everyone"}
        assert groups('externalId eq "grp-1"') == {"Admins"}
        assert groups("not (externalId pr)") == {"Everyone"}


def test_json_string_escapes_and_numbers_are_values_rfc7644_3_4_2_2_rfc8259(app: Any, org: Any, source: Any) -> None:
    # compValue is a JSON string, number, true, false or null: escapes, negatives and decimals included.
    with app.app_context():
        source_id = source_row(source.id).id
        add_member(org.id, source_id, "quote@acme.com", name='Ann "The Hammer" Lee', employee_id="-5")
        add_member(org.id, source_id, "decimal@acme.com", name="Back\\slash", employee_id="1.5")
        db.session.commit()
        assert users('displayName eq "Ann \\"The Hammer\\" Lee"') == {"quote"}
        assert users('displayName co "\\u0022The"') == {"quote"}
        assert users('displayName eq "Back\\\\slash"') == {"decimal"}
        assert users("employeeNumber eq -5") == {"quote"}
        assert users("employeeNumber eq 1.5 or employeeNumber eq 2") == {"decimal"}
        assert users('displayName eq "a 1.5 eq 7 inside a string"') == set()


@pytest.mark.parametrize(
    "text",
    [
        "",
        "userName eq",
        'displayName eq "bad \\x escape"',
        "userName eq 1 2",
        'userName eq "a" and',
        'userName xx "a"',
        'bogus eq "x"',
        'name eq "x"',
        'name.middleName eq "x"',
        "active gt true",
        'active co "t"',
        "userName eq true",
        'emails[foo eq "x"]',
        'emails[type eq "work" and groups[value eq "x"]]',
        'title[value eq "x"]',
        'schemas.value eq "x"',
        'schemas[value eq "x"]',
        'meta.created gt "yesterday"',
        'meta.created co "2020"',
        'urn:example:params:custom:2.0:User:x eq "1"',
        'userName eq "unterminated',
        'userName regex "a"',
    ],
)
def test_bad_filters_are_invalid_filter_rfc7644_3_4_2_2(app: Any, text: str) -> None:
    with app.app_context(), pytest.raises(filters.InvalidFilter):
        filters.to_sql("User", text)


def test_user_only_attribute_is_unknown_for_groups_rfc7644_3_4_2_2(app: Any) -> None:
    with app.app_context(), pytest.raises(filters.InvalidFilter):
        filters.to_sql("Group", 'userName eq "a"')


def test_index_backed_columns_are_the_normalized_ones_rfc7644_3_4_2_2(app: Any) -> None:
    with app.app_context():
        sql = str(
            select(Member.id)
            .where(filters.to_sql("User", 'userName eq "A@B.C"'))
            .compile(compile_kwargs={"literal_binds": True})
        )
        assert "members.external_id_norm = 'a@b.c'" in sql and "lower(" not in sql
        sql = str(
            select(UserGroup.id)
            .where(filters.to_sql("Group", 'displayName eq "Sales"'))
            .compile(compile_kwargs={"literal_binds": True})
        )
        assert "user_groups.display_name_norm = 'sales'" in sql


_PIECES = [
    "userName",
    "emails",
    "emails.value",
    "title",
    "active",
    "meta.created",
    "groups",
    "name.givenName",
    "members",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
    "x",
    " eq ",
    " ne ",
    " co ",
    " sw ",
    " gt ",
    " le ",
    " pr",
    " and ",
    " or ",
    "not ",
    "(",
    ")",
    "[",
    "]",
    ".",
    '"a"',
    '"2020-01-01T00:00:00Z"',
    '"%_\\\\"',
    "true",
    "false",
    "null",
    "12",
    "-1",
    "1.5",
    "'",
    " ",
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.lists(st.sampled_from(_PIECES), max_size=9).map("".join), st.text(max_size=40)))
def test_any_filter_text_is_a_condition_or_invalid_filter_rfc7644_3_4_2_2(app: Any, text: str) -> None:
    with app.app_context():
        for kind, model in (("User", Member), ("Group", UserGroup)):
            try:
                condition = filters.to_sql(kind, text)
            except filters.InvalidFilter:
                continue
            db.session.execute(select(model.id).where(condition)).all()
