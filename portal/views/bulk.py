"""Bulk work in the Organization area: the user group's member picker, Members tab actions, CSV import.

Routes of their own (the Members tab's list and the member forms are ``organization``'s). Every
change goes through ``portal.core.bulk`` or ``portal.core.member_import``; the request's one
transaction (``web._end_transaction``) keeps it or, from 400 on, rolls it back.

The import keeps the uploaded file between its preview and its confirm in a file of its own under
the instance folder (``MEMBER_IMPORT_FOLDER``), named by a random token and bound to the
administrator and organization that uploaded it; it expires after ``UPLOAD_TTL``. Too big for the
session cookie, and a browser cannot send a chosen file again without the admin choosing it again.
With several hosts and no sticky sessions the confirm may reach a host without the file: it then
asks for the file again, and nothing is written.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import time
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, make_response, redirect, request, url_for
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from portal.core import bulk as core_bulk, groups as core_groups, member_import
from portal.core.errors import DomainError
from portal.views import organization
from portal.views.access import require
from portal.views.web import current_actor, form_id, id_value, refusal, render, render_error, wants_fragment

bp = Blueprint("bulk", __name__, url_prefix="/organization")

#: an upload's body may exceed the file by its multipart framing and the CSRF field
UPLOAD_BODY_LIMIT = member_import.MAX_BYTES + 64 * 1024
#: seconds an upload waits for its confirm
UPLOAD_TTL = 3600
_TOKEN = re.compile(r"[A-Za-z0-9_-]{32}")
#: rows of the preview's table ("what the import does"); every error is listed whatever the count
PREVIEW_ROWS = 200
BULK_ACTIONS = ("suspend", "reactivate", "move", "add_to_group")


def _org_id() -> int:
    return int(current_user.org_id)


@bp.url_value_preprocessor
def _upload_limit(endpoint: str | None, values: dict[str, Any] | None) -> None:
    # Before any before_request (CSRF reads the form first): the upload's own body limit, above the app's.
    if endpoint == "bulk.import_preview":
        request.max_content_length = UPLOAD_BODY_LIMIT


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(error: RequestEntityTooLarge) -> Response:
    """A file past the upload's limit: the upload page again, with the limit named.

    Raised before the view's own checks (CSRF reads the form first): only a signed-in administrator
    who may import sees the page; anyone else gets the console's 413 page.
    """
    if request.endpoint != "bulk.import_preview" or not current_user.is_authenticated:
        return render_error(error)
    if not current_user.can("directory"):
        return render_error(error)
    limit = f"{member_import.MAX_BYTES // (1024 * 1024)} MiB"
    return _upload_page(errors=[f"The file is larger than {limit}: split it into smaller files"], status=413)


def _member_ids() -> list[int]:
    """The ids the form's checkboxes sent; one that is no id names no member."""
    ids = (id_value(raw) for raw in request.form.getlist("member_ids"))
    return [i for i in ids if i is not None]


# ---------------------------------------------------------------- User Group: the member picker


@bp.route("/groups/<int:group_id>/picker")
@require("directory")
def group_picker(group_id: int) -> Any:
    """Members the search finds, as checkboxes for the group's picker (htmx), or a page of its own."""
    search = request.args.get("q", "")[:200]
    chosen = [i for i in (id_value(raw) for raw in request.args.getlist("member_ids")) if i is not None]
    context: dict[str, Any] = {
        "picked": core_bulk.group_candidates(_org_id(), group_id, search, chosen),
        "search": search,
        "errors": {},
    }
    if wants_fragment():
        return render("organization/_group_picker_results.html", **context)
    return _picker_page(group_id, **context)


def _picker_page(group_id: int, *, status: int = 200, **context: Any) -> Response:
    group = core_groups.get_group(_org_id(), group_id)
    return render(
        "organization/group_picker.html",
        status=status,
        title=f"Add members to {group.display_name}",
        group=group,
        **context,
    )


@bp.route("/groups/<int:group_id>/members/add", methods=["POST"])
@require("directory")
def add_group_members(group_id: int) -> Any:
    """Add every member ticked in the picker to a hand-made user group: one write, one Admin log entry."""
    hand_made = core_groups.get_group(_org_id(), group_id).source_id is None
    try:
        core_bulk.add_to_group(_org_id(), group_id, _member_ids(), current_actor())
    except DomainError as exc:
        # Next to the picker; a synced group has none: the drawer's message for the whole form.
        errors = refusal(exc, field="member" if hand_made else "form")
        if wants_fragment():
            return organization._group_details(group_id, errors=errors, status=422)
        picked = core_bulk.group_candidates(_org_id(), group_id, "", _member_ids())
        return _picker_page(group_id, status=422, picked=picked, search="", errors=errors)
    if wants_fragment():
        response = organization._group_details(group_id)
        response.headers["HX-Trigger"] = "groups-changed"
        return response
    return redirect(url_for("organization.group", group_id=group_id))


# ---------------------------------------------------------------- Members tab: bulk actions


@bp.app_template_global("bulk_group_choices")
def bulk_group_choices() -> list[tuple[int, str]]:
    """The hand-made user groups the Members tab's bulk bar offers (organization/_bulk_bar.html)."""
    return core_bulk.hand_made_groups(_org_id())


def _run_bulk(action: str) -> core_bulk.BulkResult:
    org_id, ids, actor = _org_id(), _member_ids(), current_actor()
    if action in ("suspend", "reactivate"):
        return core_bulk.set_active(org_id, ids, action == "reactivate", actor)
    if action == "move":
        return core_bulk.move_to_department(org_id, ids, form_id(request.form.get("department_id")) or 0, actor)
    return core_bulk.add_to_group(org_id, form_id(request.form.get("group_id")) or 0, ids, actor)


#: what each action says it did
DONE = {"suspend": "Suspended", "reactivate": "Reactivated", "move": "Moved", "add_to_group": "Added to the group"}
#: what each action says of a member that was already so
ALREADY = {
    "suspend": "already suspended",
    "reactivate": "already active",
    "move": "already in that department",
    "add_to_group": "already in the group",
}


@bp.route("/members/bulk", methods=["POST"])
@require("directory")
def members_action() -> Any:
    """Suspend, reactivate, move to a department or add to a group the members ticked on the Members tab."""
    action = request.form.get("action", "")
    if action not in BULK_ACTIONS:
        return _bulk_answer(errors={"form": "Choose what to do with the selected members"}, status=422)
    try:
        result = _run_bulk(action)
    except DomainError as exc:
        return _bulk_answer(errors=refusal(exc, field="form"), status=422)
    response = _bulk_answer(result=result, action=action)
    response.headers["HX-Trigger"] = "members-changed"
    return response


def _bulk_answer(
    *,
    result: core_bulk.BulkResult | None = None,
    action: str = "",
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    """What a bulk action did, in the Members tab's bulk bar (htmx) or as a page of its own."""
    outcome: dict[str, Any] | None = None
    if result is not None:
        notes = []
        if result.unchanged:
            notes.append(f"{core_bulk.count_text(len(result.unchanged))} {ALREADY[action]}.")
        if result.missing:
            notes.append(f"{core_bulk.count_text(result.missing)} no longer exist.")
        outcome = {
            "headline": f"{DONE[action]} {core_bulk.count_text(len(result.changed))}"
            if result.changed
            else "No member changed",
            "notes": notes,
            "skipped": result.skipped,
            "changed": bool(result.changed),
        }
    return render(
        "organization/bulk_result.html",
        "organization/_bulk_result.html",
        status=status,
        title="Member and Department",
        outcome=outcome,
        bulk_errors=errors or {},
    )


# ---------------------------------------------------------------- Members tab: CSV import


def _upload_folder() -> Path:
    configured = current_app.config.get("MEMBER_IMPORT_FOLDER")
    folder = Path(configured) if configured else Path(current_app.instance_path) / "member-imports"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def _prune(folder: Path) -> None:
    """Remove the uploads nobody confirmed in time."""
    cutoff = time.time() - UPLOAD_TTL
    for path in folder.glob("*.json"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
        except FileNotFoundError:  # another worker pruned it meanwhile
            pass


def _keep_upload(data: bytes, filename: str) -> str:
    """Keep an upload for its confirm; the token that names it."""
    folder = _upload_folder()
    _prune(folder)
    token = secrets.token_urlsafe(24)
    payload = {
        "org_id": _org_id(),
        "admin_id": current_user.id,
        "filename": filename,
        "created": time.time(),
        "data": base64.b64encode(data).decode("ascii"),
    }
    temporary = folder / f".{token}.tmp"
    with open(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w", encoding="utf-8") as out:
        json.dump(payload, out)
    os.replace(temporary, folder / f"{token}.json")
    return token


def _upload_path(token: str) -> Path | None:
    return _upload_folder() / f"{token}.json" if _TOKEN.fullmatch(token) else None


def _kept_upload(token: str) -> tuple[bytes, str] | None:
    """The upload a token names, when this administrator of this organization made it and it has not expired."""
    path = _upload_path(token)
    try:
        payload = json.loads(path.read_text(encoding="utf-8")) if path is not None else None
    except (OSError, ValueError):
        return None
    if (
        not isinstance(payload, dict)
        or payload.get("org_id") != _org_id()
        or payload.get("admin_id") != current_user.id
        or time.time() - float(payload.get("created", 0)) > UPLOAD_TTL
    ):
        return None
    return base64.b64decode(payload["data"]), str(payload.get("filename") or "")


def _upload_page(
    *,
    errors: list[str] | None = None,
    file_errors: list[member_import.CellError] | None = None,
    filename: str = "",
    status: int = 200,
) -> Response:
    """Step 1's page; ``errors`` say why a request was refused, ``file_errors`` what is wrong in the file."""
    return render(
        "organization/import_upload.html",
        status=status,
        title="Import members",
        errors=errors or [],
        file_errors=file_errors or [],
        filename=filename,
        max_mib=member_import.MAX_BYTES // (1024 * 1024),
        max_rows=member_import.MAX_ROWS,
        columns=member_import.columns(_org_id()),
    )


@bp.route("/members/import")
@require("directory")
def import_upload() -> Any:
    """Step 1 of the import: download the template, choose the file."""
    return _upload_page()


@bp.route("/members/import/template.csv")
@require("directory")
def import_template() -> Any:
    """The CSV template: the header row of the columns the import reads, custom fields included."""
    response = make_response(member_import.template_csv(_org_id()))
    response.content_type = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = 'attachment; filename="member-import-template.csv"'
    return response


def _preview_page(
    report: member_import.ImportReport, *, token: str | None, status: int = 200, confirmed: bool = False
) -> Response:
    return render(
        "organization/import_preview.html",
        status=status,
        title="Import members",
        report=report,
        token=token,
        confirmed=confirmed,
        preview_rows=report.rows[:PREVIEW_ROWS],
        errors=sorted(report.errors, key=lambda e: e.row or 0),
        max_mib=member_import.MAX_BYTES // (1024 * 1024),
        max_rows=member_import.MAX_ROWS,
    )


def _file_name(raw: str | None) -> str:
    """The uploaded file's name as the pages and the Admin log show it: its last part, printable, short."""
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(c for c in name if c.isprintable())[:200]


@bp.route("/members/import", methods=["POST"])
@require("directory")
def import_preview() -> Any:
    """Step 2: every row checked by the member writer and shown, with every error by row and column; nothing written."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _upload_page(errors=["Choose the CSV file to import"], status=422)
    data = upload.read(member_import.MAX_BYTES + 1)
    filename = _file_name(upload.filename)
    try:
        report = member_import.preview(_org_id(), data, filename, current_actor())
    except member_import.ImportRefused as exc:
        return _upload_page(file_errors=exc.problems, filename=filename, status=422)
    if report.errors:
        return _preview_page(report, token=None, status=422)
    return _preview_page(report, token=_keep_upload(data, filename))


@bp.route("/members/import/<token>", methods=["POST"])
@require("directory")
def import_confirm(token: str) -> Any:
    """Step 3: the whole import in the request's one transaction; any error, and nothing is written."""
    kept = _kept_upload(token)
    if kept is None:
        return _upload_page(
            errors=["This upload has expired or was already imported: upload the file again"], status=410
        )
    data, filename = kept
    try:
        report = member_import.confirm(_org_id(), data, filename, current_actor())
    except member_import.ImportRefused as exc:
        return _upload_page(file_errors=exc.problems, filename=filename, status=422)
    if report.errors:
        # The directory changed since the preview (another admin, a sync): nothing was written, and the
        # page shows why; the admin fixes the file and uploads it again.
        return _preview_page(report, token=None, status=422)
    # Gone before the commit: a second confirm cannot import it twice; a failed commit asks for the file again.
    path = _upload_path(token)
    if path is not None:
        path.unlink(missing_ok=True)
    return _preview_page(report, token=None, confirmed=True)
