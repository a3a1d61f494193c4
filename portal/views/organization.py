"""Console area Organization: Member and Department, User Group, Field Management.

Seed 1.3 and "View data source information".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, make_response, redirect, request, url_for
from flask_login import current_user

from portal.core import (
    departments as core_departments,
    fields as core_fields,
    groups as core_groups,
    member_list,
    members as core_members,
    notifications,
    workforce,
)
from portal.core.errors import DomainError, NotFound
from portal.core.sync_sources import USERNAME_IS_EMAIL_LABEL, list_sources
from portal.views.access import require
from portal.views.web import UNKNOWN_ID, current_actor, form_id, id_value, refusal, render, wants_fragment

from ..models import MEMBER_STATUSES, Member, SyncSource
from . import log_tools
from .paging import page_number, pager

bp = Blueprint("organization", __name__, url_prefix="/organization")
bp.add_app_template_filter(core_fields.scim_attribute_label, "scim_attribute")

PER_PAGE = 50
GROUP_MEMBERS_PER_PAGE = 20

#: member form inputs besides the plain member fields
MEMBER_ASSOCIATIONS = ("job_title", "employee_type_id")


# ---------------------------------------------------------------- shared


def _org_id() -> int:
    return current_user.org_id


def _banners() -> list[notifications.Banner]:
    return notifications.banners(current_user)


def _drawer(fragment: str, *, status: int = 200, **context: Any) -> Response:
    """A Details drawer for htmx, or the same content as a page of its own (links work without JavaScript)."""
    return render("organization/drawer_page.html", fragment, status=status, inner=fragment, **context)


def _changed(response: Response, event: str) -> Response:
    """Tell the page's lists to refresh themselves (they listen for ``event`` on the body)."""
    response.headers["HX-Trigger"] = event
    return response


def _closed(event: str, redirect_to: str) -> Response:
    """After a deletion: an empty drawer (app.js closes it) and a refresh event, or a redirect."""
    if wants_fragment():
        return _changed(make_response("", 200), event)
    return redirect(redirect_to)  # type: ignore[return-value]


def _refused(exc: DomainError, show: Callable[..., Response], **context: Any) -> Response:
    """Show the form again with the message next to its field: 422, so nothing the request wrote is kept."""
    return show(errors=refusal(exc), status=422, **context)


def _sources() -> list[SyncSource]:
    return list_sources(_org_id())


def _tabs() -> list[tuple[str, str, str]]:
    return [
        ("members", "Members", url_for("organization.members")),
        ("departments", "Departments", url_for("organization.departments")),
    ]


@bp.route("/banners/<int:source_id>/dismiss", methods=["POST"])
@require("directory")
def dismiss_banner(source_id: int) -> Any:
    """Hide a sync source's change banner for this administrator."""
    notifications.dismiss_banner(current_user, source_id)
    if wants_fragment():
        return "", 204
    return redirect(request.referrer or url_for("organization.members"))


# ---------------------------------------------------------------- Members


def _member_filter() -> member_list.MemberFilter:
    args = request.args
    source = args.get("source", "")
    # An id no row can have (past MAX_ID) is no filter, as a value that is not a number is.
    return member_list.MemberFilter(
        search=args.get("q", "")[:200],
        department_id=id_value(args.get("department")),
        status=args.get("status", "") if args.get("status", "") in MEMBER_STATUSES else "",
        source=source if source == "console" or id_value(source) is not None else "",
    )


def _flat_departments() -> list[tuple[int, str]]:
    """(id, indented name) of every department, tree order, for the department selects."""
    root, _nodes = core_departments.department_tree(_org_id(), counts=False)
    rows: list[tuple[int, str]] = []

    def walk(node: core_departments.DepartmentNode, depth: int) -> None:
        rows.append((node.department.id, "\u2003" * depth + node.department.name))
        for child in node.children:
            walk(child, depth + 1)

    walk(root, 0)
    return rows


def _member_sort() -> str:
    """The ``sort`` query argument: one of ``member_list.SORTS``, by name when absent or unknown."""
    sort = request.args.get("sort", "")
    return sort if sort in member_list.SORTS else "name"


@bp.route("/members")
@require("directory")
def members() -> Any:
    """The Members tab: search as you type, filters, sortable columns, numbered pages with the total, all in SQL."""
    flt = _member_filter()
    sort = _member_sort()
    number = page_number()
    filters: dict[str, Any] = {
        "q": flt.search,
        "department": flt.department_id,
        "status": flt.status,
        "source": flt.source,
    }
    # The order is in the URL, the pages' links and the export's; by name (the default) it is left out.
    query_args = {**filters, "sort": "" if sort == "name" else sort}
    kept = {k: v for k, v in query_args.items() if v}
    rows, total = member_list.list_members(_org_id(), flt, limit=PER_PAGE, offset=(number - 1) * PER_PAGE, sort=sort)
    context: dict[str, Any] = {
        "members": rows,
        "flt": flt,
        "sort": sort,
        "sort_url": lambda s: url_for("organization.members", **{k: v for k, v in filters.items() if v}, sort=s),
        "export_url": url_for("organization.export_members", **kept),
        # A fragment also swaps the filter form's sort and export link (out of band): they follow the list.
        "oob": wants_fragment(),
        "pager": pager("organization.members", total, PER_PAGE, number, **query_args),
        "self_url": url_for("organization.members", **kept, page=number),
    }
    if wants_fragment():
        return render("organization/_member_results.html", "organization/_member_results.html", **context)
    return render(
        "organization/members.html",
        title="Member and Department",
        tabs=_tabs(),
        tab="members",
        banners=_banners(),
        departments=_flat_departments(),
        sources=_sources(),
        **context,
    )


#: the Members CSV export's columns
MEMBERS_CSV_HEADER = [
    "Name",
    "Email",
    "User ID (userName)",
    "Employee ID",
    "Department",
    "Job title",
    "Workforce type",
    "Status",
    "Data source",
    "SCIM id",
]


def _csv_row(row: member_list.ExportRow) -> list[Any]:
    """A member as a CSV row, with the table's labels (log_tools.csv_response neutralises formulas)."""
    return [
        row.name,
        row.email,
        row.user_name,
        row.employee_id,
        ", ".join(row.departments),
        row.job_title,
        row.workforce_type,
        "Active" if row.status == "active" else "Inactive",
        "Admin Console" if row.source is None else f"SCIM data source ({row.source})",
        row.scim_id,
    ]


@bp.route("/members/export.csv")
@require("directory")
def export_members() -> Any:
    """The members the Members tab shows for its search and filters, in its order, as a streamed CSV."""
    rows = member_list.export_members(_org_id(), _member_filter(), _member_sort())
    return log_tools.csv_response("members.csv", MEMBERS_CSV_HEADER, (_csv_row(row) for row in rows))


def _member_details(member: Member, **context: Any) -> Response:
    return _drawer(
        "organization/_member_details.html",
        title=member.name,
        member=member,
        sync_log=member_list.member_sync_log(member),
        custom_fields=_custom_fields(),
        **context,
    )


def _custom_fields() -> list[Any]:
    return [f for f in core_fields.list_fields(_org_id()) if not f.standard]


@bp.route("/members/<int:member_id>")
@require("directory")
def member(member_id: int) -> Any:
    """Details of a member: every field, the data source and its recent sync log entries."""
    return _member_details(core_members.get_member(_org_id(), member_id))


def _member_values() -> dict[str, Any]:
    form = request.form
    values: dict[str, Any] = {key: form.get(key, "") for key in core_members.MEMBER_FIELDS + MEMBER_ASSOCIATIONS}
    dept = form_id(form.get("department_id"))
    values["department_ids"] = [dept] if dept is not None else []
    # A workforce type that is no id (nor empty: none) is one no row has: the domain refuses the choice.
    chosen_type = form.get("employee_type_id", "").strip()
    values["employee_type_id"] = (form_id(chosen_type) or UNKNOWN_ID) if chosen_type else ""
    return values


def _custom_values() -> dict[str, str]:
    return {key[len("custom.") :]: value for key, value in request.form.items() if key.startswith("custom.")}


def _member_form(
    member: Member | None = None,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    if member is not None and values is None:
        values = {key: getattr(member, key) or "" for key in core_members.MEMBER_FIELDS}
        values.update(
            job_title=member.job_title.name if member.job_title else "",
            employee_type_id=member.employee_type_id or "",
            department_ids=[d.id for d in member.departments],
        )
        values.update({f"custom.{k}": v for k, v in (member.custom_fields or {}).items()})
    return _drawer(
        "organization/_member_form.html",
        status=status,
        title="Edit member" if member else "Add member",
        member=member,
        values=values or {},
        errors=errors or {},
        departments=_flat_departments(),
        workforce_types=[(wt.id, wt.name) for wt in workforce.workforce_types(_org_id())],
        custom_fields=_custom_fields(),
    )


@bp.route("/members/new", methods=["GET", "POST"])
@require("directory")
def new_member() -> Any:
    """Add a member by hand: data source Admin Console, the same uniqueness rules as SCIM."""
    if request.method == "GET":
        return _member_form()
    values = _member_values()
    custom = _custom_values()
    try:
        created = core_members.create_member(_org_id(), values, current_actor())
        if custom:
            core_members.set_custom_fields(_org_id(), created.id, custom, current_actor())
    except DomainError as exc:
        errors = _member_refusal(exc, custom)
        values = {**values, **{f"custom.{k}": v for k, v in custom.items()}}
        return _member_form(values=values, errors=errors, status=422)
    return _member_done(created)


def _member_refusal(exc: DomainError, custom: dict[str, str]) -> dict[str, str]:
    """Every error of the member form at once: the refused fields' and the custom fields' (checked apart)."""
    errors = refusal(exc)
    if custom:
        try:
            core_fields.custom_field_values(_org_id(), custom)
        except DomainError as problem:
            errors = {**errors, **(getattr(problem, "errors", None) or {problem.field or "form": problem.message})}
    return errors


def _member_done(member: Member) -> Response:
    if wants_fragment():
        return _changed(_member_details(member), "members-changed")
    return redirect(url_for("organization.member", member_id=member.id))  # type: ignore[return-value]


@bp.route("/members/<int:member_id>/edit", methods=["GET", "POST"])
@require("directory")
def edit_member(member_id: int) -> Any:
    """Edit a member; a synced member's fields from its sync source stay read-only (only custom fields change)."""
    found: Member = core_members.get_member(_org_id(), member_id)
    if request.method == "GET":
        return _member_form(found)
    custom = _custom_values()
    try:
        if found.source_id is None:
            core_members.update_member(_org_id(), found.id, _member_values(), current_actor())
        if custom:
            core_members.set_custom_fields(_org_id(), found.id, custom, current_actor())
    except DomainError as exc:
        errors = _member_refusal(exc, custom)
        found = core_members.get_member(_org_id(), member_id)
        values = {
            **(_member_values() if found.source_id is None else {}),
            **{f"custom.{k}": v for k, v in custom.items()},
        }
        return _member_form(found, values=values, errors=errors, status=422)
    return _member_done(found)


def _member_action(member_id: int, action: Callable[[Member], object]) -> Response:
    found: Member = core_members.get_member(_org_id(), member_id)
    try:
        action(found)
    except DomainError as exc:
        errors = refusal(exc, field="status")
        return _member_details(core_members.get_member(_org_id(), member_id), errors=errors, status=422)
    return _member_done(found)


@bp.route("/members/<int:member_id>/suspend", methods=["POST"])
@require("directory")
def suspend_member(member_id: int) -> Any:
    """Suspend a member made in the Admin Console."""
    return _member_action(member_id, lambda m: core_members.set_member_active(_org_id(), m.id, False, current_actor()))


@bp.route("/members/<int:member_id>/reactivate", methods=["POST"])
@require("directory")
def reactivate_member(member_id: int) -> Any:
    """Reactivate a suspended member made in the Admin Console."""
    return _member_action(member_id, lambda m: core_members.set_member_active(_org_id(), m.id, True, current_actor()))


@bp.route("/members/<int:member_id>/delete", methods=["POST"])
@require("directory")
def delete_member(member_id: int) -> Any:
    """Delete a member made in the Admin Console."""
    found: Member = core_members.get_member(_org_id(), member_id)
    try:
        core_members.delete_member(_org_id(), found.id, current_actor())
    except DomainError as exc:
        errors = refusal(exc, field="status")
        return _member_details(core_members.get_member(_org_id(), member_id), errors=errors, status=422)
    return _closed("members-changed", url_for("organization.members"))


# ---------------------------------------------------------------- Departments


def _department_details(dept_id: int, *, errors: dict[str, str] | None = None, status: int = 200) -> Response:
    _root, nodes = core_departments.department_tree(_org_id())
    node = nodes.get(dept_id)
    if node is None:
        raise NotFound("No such department")
    below = set(node.path_ids)
    parents = [(i, label) for i, label in _flat_departments() if i not in below]
    return _drawer(
        "organization/_department_details.html",
        status=status,
        title=node.department.name,
        node=node,
        parents=parents,
        errors=errors or {},
    )


@bp.route("/members/departments")
@require("directory")
def departments() -> Any:
    """The Departments tab: the department tree with member counts, expandable."""
    root, _nodes = core_departments.department_tree(_org_id())
    context: dict[str, Any] = {"root": root, "errors": {}, "values": {}}
    if wants_fragment():
        return render("organization/_department_tree.html", **context)
    return render(
        "organization/departments.html",
        title="Member and Department",
        tabs=_tabs(),
        tab="departments",
        banners=_banners(),
        departments=_flat_departments(),
        **context,
    )


@bp.route("/members/departments/<int:dept_id>")
@require("directory")
def department(dept_id: int) -> Any:
    """Details of a department: data source, parent, members, sub-departments; rename, move, delete."""
    return _department_details(dept_id)


def _form_int(name: str) -> int | None:
    return form_id(request.form.get(name))


@bp.route("/members/departments/new", methods=["POST"])
@require("directory")
def new_department() -> Any:
    """Add a department by hand under the chosen parent (the organization when none)."""
    name = request.form.get("name", "")
    parent_id = _form_int("parent_id")
    try:
        created = core_departments.create_department(_org_id(), name, current_actor(), parent_id=parent_id)
    except DomainError as exc:
        errors = refusal(exc, default="name")
        root, _nodes = core_departments.department_tree(_org_id())
        context: dict[str, Any] = {"root": root, "errors": errors, "values": {"name": name, "parent_id": parent_id}}
        if wants_fragment():
            return render("organization/_department_add.html", status=422, departments=_flat_departments(), **context)
        return render(
            "organization/departments.html",
            status=422,
            title="Member and Department",
            tabs=_tabs(),
            tab="departments",
            banners=_banners(),
            departments=_flat_departments(),
            **context,
        )
    if wants_fragment():
        response = render(
            "organization/_department_add.html",
            departments=_flat_departments(),
            errors={},
            values={},
            added=created.name,
        )
        return _changed(response, "departments-changed")
    return redirect(url_for("organization.departments"))


@bp.route("/members/departments/<int:dept_id>/edit", methods=["POST"])
@require("directory")
def edit_department(dept_id: int) -> Any:
    """Rename or move a department (never under itself or its sub-departments)."""
    name = request.form.get("name")
    try:
        core_departments.update_department(
            _org_id(), dept_id, current_actor(), name=name, parent_id=_form_int("parent_id")
        )
    except NotFound:
        raise  # the console's 404 page, not a message on the form
    except DomainError as exc:
        return _department_details(dept_id, errors=refusal(exc, default="name"), status=422)
    if wants_fragment():
        return _changed(_department_details(dept_id), "departments-changed")
    return redirect(url_for("organization.department", dept_id=dept_id))


@bp.route("/members/departments/<int:dept_id>/delete", methods=["POST"])
@require("directory")
def delete_department(dept_id: int) -> Any:
    """Delete an empty department."""
    try:
        core_departments.delete_department(_org_id(), dept_id, current_actor())
    except NotFound:
        raise  # the console's 404 page, not a message on the form
    except DomainError as exc:
        return _department_details(dept_id, errors=refusal(exc, field="department"), status=422)
    return _closed("departments-changed", url_for("organization.departments"))


# ---------------------------------------------------------------- User Group


@bp.route("/groups")
@require("directory")
def groups() -> Any:
    """User Group: the organization's groups with member counts."""
    search = request.args.get("q", "")[:200]
    number = page_number()
    rows, total = core_groups.list_groups(_org_id(), search=search, limit=PER_PAGE, offset=(number - 1) * PER_PAGE)
    context: dict[str, Any] = {
        "groups": rows,
        "search": search,
        "pager": pager("organization.groups", total, PER_PAGE, number, q=search),
        "self_url": url_for("organization.groups", q=search or None, page=number),
    }
    if wants_fragment():
        return render("organization/_group_results.html", **context)
    return render("organization/groups.html", title="User Group", banners=_banners(), **context)


def _group_details(
    group_id: int, *, errors: dict[str, str] | None = None, status: int = 200, values: dict[str, Any] | None = None
) -> Response:
    group = core_groups.get_group(_org_id(), group_id)
    number = page_number()
    rows, total = core_groups.group_members_page(
        group, limit=GROUP_MEMBERS_PER_PAGE, offset=(number - 1) * GROUP_MEMBERS_PER_PAGE
    )
    return _drawer(
        "organization/_group_details.html",
        status=status,
        title=group.display_name,
        group=group,
        group_members=rows,
        member_pager=pager("organization.group", total, GROUP_MEMBERS_PER_PAGE, number, group_id=group.id),
        errors=errors or {},
        values=values or {},
    )


@bp.route("/groups/<int:group_id>")
@require("directory")
def group(group_id: int) -> Any:
    """Details of a user group: data source and member list."""
    return _group_details(group_id)


def _group_form(
    *, values: dict[str, Any] | None = None, errors: dict[str, str] | None = None, status: int = 200
) -> Response:
    return _drawer(
        "organization/_group_form.html", status=status, title="Add user group", values=values or {}, errors=errors or {}
    )


@bp.route("/groups/new", methods=["GET", "POST"])
@require("directory")
def new_group() -> Any:
    """Add a user group by hand."""
    if request.method == "GET":
        return _group_form()
    values = {"display_name": request.form.get("display_name", ""), "description": request.form.get("description", "")}
    try:
        created = core_groups.create_group(_org_id(), values["display_name"], current_actor(), values["description"])
    except DomainError as exc:
        return _refused(exc, _group_form, values=values)
    return _group_done(created.id)


def _group_done(group_id: int) -> Response:
    if wants_fragment():
        return _changed(_group_details(group_id), "groups-changed")
    return redirect(url_for("organization.group", group_id=group_id))  # type: ignore[return-value]


def _group_write(group_id: int, write: Callable[[], Any]) -> Response:
    """Run a write on a hand-made group; a refusal shows the group again with the message."""
    core_groups.get_group(_org_id(), group_id)
    try:
        write()
    except DomainError as exc:
        return _group_details(group_id, errors=refusal(exc), status=422, values=dict(request.form.items()))
    return _group_done(group_id)


@bp.route("/groups/<int:group_id>/edit", methods=["POST"])
@require("directory")
def edit_group(group_id: int) -> Any:
    """Rename a hand-made user group or change its description."""
    return _group_write(
        group_id,
        lambda: core_groups.update_group(
            _org_id(),
            group_id,
            current_actor(),
            display_name=request.form.get("display_name"),
            description=request.form.get("description"),
        ),
    )


@bp.route("/groups/<int:group_id>/members", methods=["POST"])
@require("directory")
def add_group_member(group_id: int) -> Any:
    """Add a member (by email or user ID) to a hand-made user group."""
    return _group_write(
        group_id,
        lambda: core_groups.add_group_member(_org_id(), group_id, request.form.get("member", ""), current_actor()),
    )


@bp.route("/groups/<int:group_id>/members/<int:member_id>/remove", methods=["POST"])
@require("directory")
def remove_group_member(group_id: int, member_id: int) -> Any:
    """Take a member out of a hand-made user group."""
    return _group_write(
        group_id, lambda: core_groups.remove_group_member(_org_id(), group_id, member_id, current_actor())
    )


@bp.route("/groups/<int:group_id>/delete", methods=["POST"])
@require("directory")
def delete_group(group_id: int) -> Any:
    """Delete a hand-made user group."""
    core_groups.get_group(_org_id(), group_id)
    try:
        core_groups.delete_group(_org_id(), group_id, current_actor())
    except DomainError as exc:
        return _group_details(group_id, errors=refusal(exc, field="form"), status=422)
    return _closed("groups-changed", url_for("organization.groups"))


# ---------------------------------------------------------------- Field Management


@bp.route("/fields")
@require("directory")
def fields() -> Any:
    """Field Management: the 12 standard member fields and the custom ones."""
    rows = core_fields.list_fields(_org_id())
    context: dict[str, Any] = {
        "fields": rows,
        "sources": _sources(),
        "required_where": core_fields.REQUIRED_WHERE,
        "rule_fields": core_fields.USERNAME_RULE_FIELDS,
        "username_rule_label": USERNAME_IS_EMAIL_LABEL,
    }
    if wants_fragment():
        return render("organization/_field_results.html", **context)
    return render("organization/fields.html", title="Field Management", banners=_banners(), **context)


def _field_details(field_id: int, *, errors: dict[str, str] | None = None, status: int = 200) -> Response:
    found = core_fields.get_field(_org_id(), field_id)
    return _drawer(
        "organization/_field_details.html",
        status=status,
        title=found.name,
        field=found,
        field_sources=core_fields.field_sources(_org_id(), found),
        required_where=core_fields.REQUIRED_WHERE,
        derived_from=core_fields.DERIVED_FROM,
        errors=errors or {},
        field_types=core_fields.FIELD_TYPES,
    )


@bp.route("/fields/<int:field_id>")
@require("directory")
def field(field_id: int) -> Any:
    """Details of a field: its data source information (sync source and SCIM attribute), rules, editability."""
    return _field_details(field_id)


def _field_form(
    *, values: dict[str, Any] | None = None, errors: dict[str, str] | None = None, status: int = 200
) -> Response:
    return _drawer(
        "organization/_field_form.html",
        status=status,
        title="Add custom field",
        values=values or {},
        errors=errors or {},
        field_types=core_fields.FIELD_TYPES,
    )


@bp.route("/fields/new", methods=["GET", "POST"])
@require("directory")
def new_field() -> Any:
    """Add a custom field: name and type (text, number, date or option with its options)."""
    if request.method == "GET":
        return _field_form()
    values = {
        "name": request.form.get("name", ""),
        "field_type": request.form.get("field_type", ""),
        "options": request.form.get("options", ""),
    }
    try:
        created = core_fields.create_field(
            _org_id(), values["name"], values["field_type"], current_actor(), options=values["options"].splitlines()
        )
    except DomainError as exc:
        return _refused(exc, _field_form, values=values)
    if wants_fragment():
        return _changed(_field_details(created.id), "fields-changed")
    return redirect(url_for("organization.field", field_id=created.id))


@bp.route("/fields/<int:field_id>/delete", methods=["POST"])
@require("directory")
def delete_field(field_id: int) -> Any:
    """Delete a custom field."""
    try:
        core_fields.delete_field(_org_id(), field_id, current_actor())
    except NotFound:
        raise  # the console's 404 page, not a message on the form
    except DomainError as exc:
        return _field_details(field_id, errors=refusal(exc, field="field"), status=422)
    return _closed("fields-changed", url_for("organization.fields"))
