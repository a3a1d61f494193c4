"""Issue 18, "Nothing a provider sends is silently lost": emails, phoneNumbers and addresses kept whole.

RFC 7643 §4.1.2 defines the three multi-valued attributes and their sub-attributes (an address's
formatted, streetAddress, locality, region, postalCode, country; every entry's type and primary);
RFC 7643 §2.4 says ``primary`` is true on at most one entry and false when not given. The member
keeps every entry as received and derives its own Email, Mobile and Work country or region from
them (the work entry, else the primary one, else the first: DESIGN.md, "Attribute mapping").

PATCH by a value filter (RFC 7644 §3.5.2, valuePath) changes exactly the entries the filter names:
§3.5.2.1 add, §3.5.2.2 remove, §3.5.2.3 replace. One deliberate deviation: §3.5.2.3 answers a
replace that matches nothing with 400 noTarget; Microsoft Entra ID sends "Replace" for a value the
target does not have yet, so such a replace adds the entry, when the filter says what it is
(``type eq "..."``); a filter that cannot describe a new entry still answers 400 noTarget.
"""

from __future__ import annotations

import html
from typing import Any

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import Field, Member
from tests.conftest import Console
from tests.scim.conftest import Scim, assert_scim_error, sync_logs, user

pytestmark = pytest.mark.both_databases

EMAILS = [
    {"value": "ann.home@example.test", "type": "home"},
    {"value": "ann@acme.test", "type": "work", "primary": True, "display": "Ann at work"},
]
PHONES = [
    {"value": "+33 6 12 34 56 78", "type": "mobile", "display": "+33 (0)6 12 34 56 78"},
    {"value": "+33 1 23 45 67 89", "type": "work"},
]
ADDRESSES = [
    {
        "formatted": "5 rue des Lilas\n69003 Lyon\nFrance",
        "streetAddress": "5 rue des Lilas",
        "locality": "Lyon",
        "region": "Auvergne-Rhône-Alpes",
        "postalCode": "69003",
        "country": "FR",
        "type": "home",
    },
    {
        "formatted": "Kurfürstendamm 1\n10719 Berlin\nGermany",
        "streetAddress": "Kurfürstendamm 1",
        "locality": "Berlin",
        "region": "Berlin",
        "postalCode": "10719",
        "country": "DE",
        "type": "work",
        "primary": True,
    },
]


def _row(app: Any) -> Member:
    with app.app_context():
        member = db.session.scalar(sa.select(Member))
        db.session.expunge_all()
        return member


def _lists(resource: dict[str, Any]) -> tuple[Any, Any, Any]:
    return resource.get("emails"), resource.get("phoneNumbers"), resource.get("addresses")


def _mixed(scim: Scim) -> dict[str, Any]:
    return scim.create_user("ann@acme.test", emails=EMAILS, phoneNumbers=PHONES, addresses=ADDRESSES)


# ---------------------------------------------------------------- POST, GET, PUT: kept as sent


def test_mixed_types_round_trip_as_sent_rfc7643_4_1_2(app: Any, scim: Scim) -> None:
    """Home and work emails, mobile and work phones, home and work addresses with every sub-attribute:
    the POST response and GET return each entry as sent (RFC 7644 §3.3, §3.4.1)."""
    created = _mixed(scim)
    fetched = scim.get(f"/Users/{created['id']}").get_json()
    for resource in (created, fetched):
        assert _lists(resource) == (EMAILS, PHONES, ADDRESSES)
    member = _row(app)
    assert (member.emails, member.phone_numbers, member.addresses) == (EMAILS, PHONES, ADDRESSES)
    # The directory's own fields: the work entry of each (the seed's table).
    assert (member.email, member.mobile, member.work_country) == ("ann@acme.test", "+33 1 23 45 67 89", "DE")


def test_sub_attribute_names_in_any_case_are_kept_in_their_scim_spelling_rfc7643_2_1(app: Any, scim: Scim) -> None:
    """RFC 7643 §2.1: attribute names are case-insensitive; an entry is kept in the schema's spelling,
    with only the sub-attributes sent (an empty string is no value), and primary read as a boolean."""
    created = scim.create_user(
        "ann@acme.test",
        emails=[{"VALUE": "ann@acme.test", "Type": "work", "PRIMARY": "True"}],
        phoneNumbers=[{"value": "+1 555", "type": "mobile", "display": ""}],
        addresses=[{"STREETADDRESS": "1 Main St", "postalcode": "80301", "Country": "US"}],
    )
    assert _lists(created) == (
        [{"value": "ann@acme.test", "type": "work", "primary": True}],
        [{"value": "+1 555", "type": "mobile"}],
        [{"streetAddress": "1 Main St", "postalCode": "80301", "country": "US"}],
    )


def test_derived_fields_are_work_else_primary_else_first_seed_faq(app: Any, scim: Scim) -> None:
    """Without a work entry the primary one, else the first; the entries stay as they were sent."""
    phones = [{"value": "+1 111", "type": "home"}, {"value": "+1 222", "type": "mobile", "primary": True}]
    addresses = [{"country": "IT", "type": "home"}, {"country": "ES", "type": "other"}]
    scim.create_user("ann@acme.test", phoneNumbers=phones, addresses=addresses)
    member = _row(app)
    assert (member.mobile, member.work_country) == ("+1 222", "IT")
    assert (member.phone_numbers, member.addresses) == (phones, addresses)


def test_an_explicit_empty_list_is_kept_and_an_absent_attribute_is_none(app: Any, scim: Scim) -> None:
    """Sent as [] (none) and not sent at all are told apart in the store; neither is returned (RFC 7643 §2.5)."""
    created = scim.create_user("ann@acme.test", phoneNumbers=[])
    member = _row(app)
    assert member.phone_numbers == [] and member.addresses is None and member.mobile is None
    assert "phoneNumbers" not in created and "addresses" not in created


def test_put_replaces_the_lists_whole_rfc7644_3_5_1(app: Any, scim: Scim) -> None:
    """RFC 7644 §3.5.1: PUT replaces the resource; entries left out are gone, an attribute left out is cleared."""
    created = _mixed(scim)
    url = f"/Users/{created['id']}"
    phones = [{"value": "+49 30 1234", "type": "fax"}]
    replaced = scim.put(url, user("ann@acme.test", emails=[EMAILS[1]], phoneNumbers=phones))
    assert replaced.status_code == 200, replaced.get_json()
    for resource in (replaced.get_json(), scim.get(url).get_json()):
        assert _lists(resource) == ([EMAILS[1]], phones, None)
    member = _row(app)
    assert (member.phone_numbers, member.addresses) == (phones, None)
    assert (member.mobile, member.work_country) == ("+49 30 1234", None)
    changes = sync_logs(app)[-1].changes
    assert {"phone_numbers", "addresses", "emails", "mobile", "work_country"} <= changes.keys()


# ---------------------------------------------------------------- primary (RFC 7643 §2.4)


def test_primary_only_where_it_was_sent_rfc7643_2_4(app: Any, scim: Scim) -> None:
    """No ``primary: true`` is added to an entry sent without it; ``primary: false`` sent stays false."""
    emails = [{"value": "ann@acme.test", "type": "work"}, {"value": "a@home.test", "type": "home", "primary": False}]
    created = scim.create_user("ann@acme.test", emails=emails, phoneNumbers=[{"value": "+1 555", "type": "mobile"}])
    fetched = scim.get(f"/Users/{created['id']}").get_json()
    assert fetched["emails"] == emails
    assert fetched["phoneNumbers"] == [{"value": "+1 555", "type": "mobile"}]


def test_an_added_primary_makes_the_other_primary_false_rfc7644_3_5_2(app: Any, scim: Scim) -> None:
    """RFC 7644 §3.5.2: a value made primary sets ``primary`` to false on the others; entries sent
    without ``primary`` stay without it. Add with no filter appends (§3.5.2.1): nothing is replaced."""
    created = _mixed(scim)
    url = f"/Users/{created['id']}"
    added = {"value": "ann.lee@acme.test", "type": "work", "primary": True}
    response = scim.ops(url, {"op": "add", "path": "emails", "value": [added]})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["emails"] == [EMAILS[0], {**EMAILS[1], "primary": False}, added]
    assert _row(app).email == "ann.lee@acme.test"  # of the two work emails, the primary one


def test_add_of_an_entry_already_there_changes_only_what_it_sends_rfc7644_3_5_2_1(app: Any, scim: Scim) -> None:
    """§3.5.2.1: "If the target location already contains the value specified, no changes SHOULD be made";
    the same number with another type is another entry."""
    created = _mixed(scim)
    url = f"/Users/{created['id']}"
    again = {"value": PHONES[1]["value"], "type": "work", "display": "Office"}
    other_type = {"value": PHONES[1]["value"], "type": "home"}
    response = scim.ops(url, {"op": "add", "path": "phoneNumbers", "value": [again, other_type]})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["phoneNumbers"] == [PHONES[0], {**PHONES[1], "display": "Office"}, other_type]


def test_primary_by_filter_moves_the_primary_rfc7644_3_5_2_3(app: Any, scim: Scim) -> None:
    created = _mixed(scim)
    response = scim.ops(
        f"/Users/{created['id']}", {"op": "replace", "path": 'emails[type eq "home"].primary', "value": True}
    )
    assert response.get_json()["emails"] == [{**EMAILS[0], "primary": True}, {**EMAILS[1], "primary": False}]
    assert _row(app).email == "ann@acme.test"  # still the work one


# ---------------------------------------------------------------- PATCH by value filter (RFC 7644 §3.5.2)


def test_mobile_only_user_patch_replaces_exactly_that_number_rfc7644_3_5_2_3(app: Any, scim: Scim) -> None:
    """A user with only a mobile phone: the Mobile field is that number; replace
    ``phoneNumbers[type eq "mobile"].value`` changes that entry (DB, GET) and the Sync log row shows it."""
    created = scim.create_user("ann@acme.test", phoneNumbers=[{"value": "+1 303 555 0101", "type": "mobile"}])
    assert _row(app).mobile == "+1 303 555 0101"
    url = f"/Users/{created['id']}"
    response = scim.ops(
        url, {"op": "Replace", "path": 'phoneNumbers[type eq "mobile"].value', "value": "+1 303 555 0111"}
    )
    assert response.status_code == 200, response.get_json()
    expected = [{"value": "+1 303 555 0111", "type": "mobile"}]
    for resource in (response.get_json(), scim.get(url).get_json()):
        assert resource["phoneNumbers"] == expected
    member = _row(app)
    assert (member.mobile, member.phone_numbers) == ("+1 303 555 0111", expected)
    row = sync_logs(app)[-1]
    assert (row.operation, row.result) == ("update", "success")
    assert row.changes["mobile"] == ["+1 303 555 0101", "+1 303 555 0111"]
    assert row.changes["phone_numbers"] == [[{"value": "+1 303 555 0101", "type": "mobile"}], expected]


def test_filter_on_mobile_leaves_the_work_number_and_the_mobile_field_rfc7644_3_5_2_3(app: Any, scim: Scim) -> None:
    """Mobile and work numbers: the mobile entry changes; the Mobile field derives from the work one, so it stays."""
    created = _mixed(scim)
    response = scim.ops(
        f"/Users/{created['id']}", {"op": "replace", "path": 'phoneNumbers[type eq "mobile"].value', "value": "+33 7"}
    )
    assert response.get_json()["phoneNumbers"] == [{**PHONES[0], "value": "+33 7"}, PHONES[1]]
    assert _row(app).mobile == PHONES[1]["value"]
    assert sync_logs(app)[-1].changes.keys() == {"phone_numbers"}


def test_work_email_replace_by_filter_rfc7644_3_5_2_3(app: Any, scim: Scim) -> None:
    created = _mixed(scim)
    url = f"/Users/{created['id']}"
    response = scim.ops(url, {"op": "replace", "path": 'emails[type eq "work"].value', "value": "ann.lee@acme.test"})
    assert response.status_code == 200, response.get_json()
    expected = [EMAILS[0], {**EMAILS[1], "value": "ann.lee@acme.test"}]
    assert scim.get(url).get_json()["emails"] == expected
    member = _row(app)
    assert (member.email, member.emails) == ("ann.lee@acme.test", expected)
    assert sync_logs(app)[-1].changes["email"] == ["ann@acme.test", "ann.lee@acme.test"]


def test_work_address_locality_replace_leaves_the_country_rfc7644_3_5_2_3(app: Any, scim: Scim) -> None:
    """``addresses[type eq "work"].locality``: "the matching sub-attribute of all matching records is
    replaced" (§3.5.2.3); the other sub-attributes, the home address and the work country stay."""
    created = _mixed(scim)
    url = f"/Users/{created['id']}"
    response = scim.ops(url, {"op": "replace", "path": 'addresses[type eq "work"].locality', "value": "Potsdam"})
    assert response.status_code == 200, response.get_json()
    expected = [ADDRESSES[0], {**ADDRESSES[1], "locality": "Potsdam"}]
    assert scim.get(url).get_json()["addresses"] == expected
    member = _row(app)
    assert (member.addresses, member.work_country) == (expected, "DE")
    assert sync_logs(app)[-1].changes == {"addresses": [ADDRESSES, expected]}


def test_remove_of_a_filtered_entry_rfc7644_3_5_2_2(app: Any, scim: Scim) -> None:
    """§3.5.2.2: the values the filter matches are removed, the others stay; the derived field follows.
    The last value removed leaves the attribute unassigned."""
    created = _mixed(scim)
    url = f"/Users/{created['id']}"
    response = scim.ops(url, {"op": "remove", "path": 'phoneNumbers[type eq "work"]'})
    assert response.status_code == 200, response.get_json()
    assert scim.get(url).get_json()["phoneNumbers"] == [PHONES[0]]
    assert _row(app).mobile == PHONES[0]["value"]  # no work number left: the first one
    assert sync_logs(app)[-1].changes["mobile"] == [PHONES[1]["value"], PHONES[0]["value"]]
    scim.ops(url, {"op": "remove", "path": 'emails[value eq "ann.home@example.test"]'})
    assert scim.get(url).get_json()["emails"] == [EMAILS[1]]
    scim.ops(url, {"op": "remove", "path": 'phoneNumbers[type eq "mobile"]'})
    assert "phoneNumbers" not in scim.get(url).get_json()
    member = _row(app)
    assert (member.mobile, member.phone_numbers) == (None, None)


def test_remove_of_a_filtered_sub_attribute_rfc7644_3_5_2_2(app: Any, scim: Scim) -> None:
    """Removing one sub-attribute keeps the rest of the entry; an entry left with no data goes."""
    created = _mixed(scim)
    url = f"/Users/{created['id']}"
    scim.ops(url, {"op": "remove", "path": 'addresses[type eq "home"].formatted'})
    home = {k: v for k, v in ADDRESSES[0].items() if k != "formatted"}
    assert scim.get(url).get_json()["addresses"] == [home, ADDRESSES[1]]
    scim.ops(url, {"op": "remove", "path": 'phoneNumbers[type eq "mobile"].value'})
    assert scim.get(url).get_json()["phoneNumbers"] == [PHONES[1]]


def test_remove_that_matches_nothing_changes_nothing_rfc7644_3_5_2_2(app: Any, scim: Scim) -> None:
    created = _mixed(scim)
    response = scim.ops(f"/Users/{created['id']}", {"op": "remove", "path": 'phoneNumbers[type eq "pager"]'})
    assert response.status_code == 200 and response.get_json()["phoneNumbers"] == PHONES
    assert sync_logs(app)[-1].changes == {}


@pytest.mark.parametrize("op", ["add", "Replace"])
def test_filter_with_no_match_adds_an_entry_of_that_type_rfc7644_3_5_2_1(app: Any, scim: Scim, op: str) -> None:
    """§3.5.2.1: add to a target that does not exist adds it. A replace does the same (the deviation from
    §3.5.2.3 this module's docstring explains: Entra ID's "Replace" of a value the target lacks)."""
    created = _mixed(scim)
    url = f"/Users/{created['id']}"
    response = scim.ops(url, {"op": op, "path": 'phoneNumbers[type eq "fax"].value', "value": "+33 4 00"})
    assert response.status_code == 200, response.get_json()
    assert scim.get(url).get_json()["phoneNumbers"] == [*PHONES, {"type": "fax", "value": "+33 4 00"}]
    assert _row(app).mobile == PHONES[1]["value"]


def test_replace_with_a_filter_that_cannot_make_the_entry_is_no_target_rfc7644_3_5_2_3(app: Any, scim: Scim) -> None:
    """§3.5.2.3: no match, and the filter does not say what the entry is: 400 noTarget, nothing changes."""
    created = _mixed(scim)
    response = scim.ops(
        f"/Users/{created['id']}", {"op": "replace", "path": 'phoneNumbers[value sw "+44"].value', "value": "+44 1"}
    )
    assert_scim_error(response, 400, "noTarget")
    assert _row(app).phone_numbers == PHONES


# ---------------------------------------------------------------- members whose entries were never kept


def _forget_lists(app: Any) -> None:
    """A member synced before the entries were kept (or made in the console): lists None, fields set."""
    with app.app_context():
        db.session.execute(sa.update(Member).values(emails=None, phone_numbers=None, addresses=None))
        db.session.commit()


def test_member_without_kept_entries_renders_from_its_fields(app: Any, scim: Scim) -> None:
    """As before: one work entry per field, the email the primary one (the server's choice, RFC 7643 §2.4)."""
    created = _mixed(scim)
    _forget_lists(app)
    fetched = scim.get(f"/Users/{created['id']}").get_json()
    assert _lists(fetched) == (
        [{"value": "ann@acme.test", "type": "work", "primary": True}],
        [{"value": PHONES[1]["value"], "type": "work"}],
        [{"country": "DE", "type": "work"}],
    )


def test_patch_of_another_attribute_keeps_nothing_that_was_not_sent(app: Any, scim: Scim) -> None:
    """A PATCH of nickName to such a member keeps no entries (its lists stay None) and logs only nickName;
    a PATCH by filter keeps the entries it leaves, as the member's GET showed them."""
    created = _mixed(scim)
    _forget_lists(app)
    url = f"/Users/{created['id']}"
    assert scim.ops(url, {"op": "replace", "path": "nickName", "value": "Annie"}).status_code == 200
    member = _row(app)
    assert (member.emails, member.phone_numbers, member.addresses) == (None, None, None)
    assert sync_logs(app)[-1].changes == {"another_name": [None, "Annie"]}
    scim.ops(url, {"op": "replace", "path": 'phoneNumbers[type eq "work"].value', "value": "+33 9"})
    member = _row(app)
    assert (member.mobile, member.phone_numbers, member.emails) == ("+33 9", [{"value": "+33 9", "type": "work"}], None)


# ---------------------------------------------------------------- the console


def test_member_details_list_the_entries_as_sent(app: Any, scim: Scim, org: Any) -> None:
    """The member's details (Organization > Members) list each email, phone number and address as sent,
    with its type and a primary marker."""
    _mixed(scim)
    console = Console(app.test_client())
    assert console.login(org.email, org.password).status_code == 302
    page = html.unescape(console.get(f"/organization/members/{_row(app).id}").get_data(as_text=True))
    assert "Emails as sent" in page and "Phone numbers as sent" in page and "Addresses as sent" in page
    for text in ("ann.home@example.test", "+33 6 12 34 56 78", "mobile", "5 rue des Lilas", "Kurfürstendamm 1"):
        assert text in page
    assert page.count("Primary</span>") == 2  # the work email and the work address
    assert "the work one, else the primary one, else the first" in page


def test_field_management_says_email_mobile_and_work_country_are_derived(app: Any, scim: Scim, org: Any) -> None:
    console = Console(app.test_client())
    assert console.login(org.email, org.password).status_code == 302
    with app.app_context():
        ids = dict(db.session.execute(sa.select(Field.key, Field.id).where(Field.org_id == org.id)).all())
    for key, attribute in (("email", "emails"), ("mobile", "phoneNumbers"), ("work_country", "addresses")):
        page = html.unescape(console.get(f"/organization/fields/{ids[key]}").get_data(as_text=True))
        assert f"Derived from the {attribute} entries kept as sent: the work one, else the primary one" in page
    page = console.get(f"/organization/fields/{ids['first_name']}").get_data(as_text=True)
    assert "Derived from" not in page
