"""CSV import of members made by hand (data source Admin Console), as Lark's batch import: upload, preview, confirm.

Every row goes through the console's one member writer (``members.create_member``, ``update_member``
and ``set_custom_fields``): the validation of the Add member form, not a copy of it. The preview runs
the whole import inside a savepoint and rolls it back, so it shows what the confirm will do and every
refusal, by row and column, and writes nothing. The confirm runs it again in the request's one
transaction, all or nothing: a single error anywhere and nothing is written.

- **Matching.** A row is matched to an existing member by its email, in any case: the one field the
  Add member form requires that a person knows (the user ID is often made up by an identity provider).
  A matched member made in the Admin Console is updated with the row's non-empty cells: an empty cell
  leaves that field as it is. A matched member a sync source manages is an error: an import never
  changes synced members. No match creates a member, its user ID (ExternalID) the email when that
  column is empty or missing.
- **References.** A department and a workforce type are named and must exist (an import of a typo
  would otherwise make departments); a job title is made when missing, as the form does.
- **Custom fields** are columns named as in Field Management, checked by their type.
- **The file.** UTF-8, with or without a byte order mark; comma-, semicolon- or tab-separated (the
  header row decides); at most ``MAX_BYTES`` and ``MAX_ROWS`` rows; the first row names the columns.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from portal.core import admin_log, members, workforce
from portal.core.actors import Actor
from portal.core.bulk import count_text
from portal.core.departments import lookup_department
from portal.core.errors import DomainError, Invalid
from portal.core.fields import FIELD_LABELS, list_fields
from portal.core.text import text_problem
from portal.extensions import db
from portal.models import Department, Member, SyncSource, norm

#: the largest file an import reads
MAX_BYTES = 2 * 1024 * 1024
#: the most members (rows below the header) one file may hold: each row goes through the writer in a
#: savepoint, about 3 ms a row, so the preview and the confirm of a full file each take some 5 to 8 s,
#: well within the web worker's 30 s timeout (bench/member_import.py)
MAX_ROWS = 2000
#: the template's standard columns, in its order: field key (``fields.STANDARD_FIELDS``) -> other header names
#: accepted for it (besides its label and its key)
STANDARD_COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("display name", "full name"),
    "email": ("work email", "email address", "e-mail"),
    "external_id": ("user id", "username", "user name", "external id"),
    "mobile": ("mobile number", "phone", "phone number"),
    "employee_id": ("employee number", "employee no."),
    "departments": ("department", "department name"),
    "job_title": ("title",),
    "employee_type": ("workforce type", "employee type", "user type"),
    "first_name": ("given name",),
    "last_name": ("family name", "surname"),
    "another_name": ("nickname", "nick name"),
    "work_country": ("work country", "country", "country or region"),
}
#: the writer's value key of a standard field whose key differs (a name the import looks up)
_VALUE_KEYS = {"departments": "department"}
#: a field the writer names in a refusal -> the value key of the column it comes from
_REFUSED_FIELDS = {"department_ids": "department", "employee_type_id": "employee_type"}
#: what a row's required value stands in for while the row is checked past its error (never written)
_STAND_INS = {"name": "Row {row}", "email": "row-{row}@stand-in.test", "external_id": "row-{row}@stand-in.test"}
#: emails per statement when the rows' members are looked up: under SQLite's oldest limit of 999 parameters
_LOOKUP_CHUNK = 900


@dataclass(frozen=True)
class Column:
    """A column an import reads: the writer's value key and the template's header."""

    key: str
    header: str


@dataclass(frozen=True)
class CellError:
    """One error of the file: its row (1 is the header; None: the whole file), its column and the message."""

    row: int | None
    column: str
    message: str


class ImportRefused(Invalid):
    """The file cannot be read as an import at all (size, encoding, header): its errors, by column."""

    def __init__(self, errors: list[CellError]) -> None:
        super().__init__(errors[0].message, field="file")
        self.problems = errors


@dataclass
class RowReport:
    """What the import does with one row: create, update, unchanged, or error (with every error of the row)."""

    row: int
    action: str
    name: str
    email: str
    errors: list[CellError] = field(default_factory=list)
    #: the member written, as the Admin log names it: "name (email)"
    label: str = ""


@dataclass
class ImportReport:
    """What an import did, or would do (the preview), row by row."""

    filename: str
    rows: list[RowReport]

    @property
    def errors(self) -> list[CellError]:
        return [error for row in self.rows for error in row.errors]

    def labels(self, action: str) -> list[str]:
        """The members of the rows with this action, as the Admin log names them."""
        return [r.label for r in self.rows if r.action == action]

    def count(self, action: str) -> int:
        return sum(1 for r in self.rows if r.action == action)


@dataclass
class Upload:
    """A file read as an import: its columns, and each row's non-empty cells by value key."""

    columns: list[Column]
    rows: list[tuple[int, dict[str, str]]]
    #: errors of single rows found while reading (a cell past the last column)
    row_errors: dict[int, list[CellError]] = field(default_factory=dict)


def _header_key(text: str) -> str:
    return " ".join(text.split()).casefold()


def columns(org_id: int) -> list[Column]:
    """The columns an import of this organization reads, in the template's order: standard, then custom fields."""
    out = [Column(_VALUE_KEYS.get(key, key), FIELD_LABELS[key]) for key in STANDARD_COLUMNS]
    out.extend(Column(f"custom.{f.key}", f.name) for f in list_fields(org_id) if not f.standard)
    return out


def template_csv(org_id: int) -> str:
    """The template to fill in: the header row, after a byte order mark so that spreadsheets read it as UTF-8."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([c.header for c in columns(org_id)])
    return "\ufeff" + buffer.getvalue()


def _names(org_id: int) -> dict[str, Column]:
    """Every header name accepted, compared as ``_header_key``: labels, keys and aliases."""
    known: dict[str, Column] = {}
    by_key = {c.key: c for c in columns(org_id)}
    for key, aliases in STANDARD_COLUMNS.items():
        column = by_key[_VALUE_KEYS.get(key, key)]
        for name in (column.header, key, key.replace("_", " "), *aliases):
            known.setdefault(_header_key(name), column)
    for column in by_key.values():
        known.setdefault(_header_key(column.header), column)
    return known


def _text(data: bytes) -> str:
    if len(data) > MAX_BYTES:
        raise ImportRefused(
            [
                CellError(
                    None, "", f"The file is larger than {MAX_BYTES // (1024 * 1024)} MiB: split it into smaller files"
                )
            ]
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportRefused(
            [CellError(None, "", 'The file is not UTF-8 text: save it as "CSV UTF-8" and upload it again')]
        ) from None
    if not text.strip():
        raise ImportRefused([CellError(None, "", "The file is empty: fill in the template and upload it again")])
    return text


def _delimiter(text: str) -> str:
    """The separator the header row uses most: a comma unless semicolons or tabs outnumber commas."""
    first = text.split("\n", 1)[0]
    return max((",", ";", "\t"), key=lambda d: (first.count(d), d == ","))


def _records(text: str) -> list[list[str]]:
    """The file's records, blank ones included (a record's index is its row in a spreadsheet)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text), strict=True)
    records: list[list[str]] = []
    filled = 0  # the header and the members: the records that are not blank
    try:
        for record in reader:
            records.append(record)
            filled += any(cell.strip() for cell in record)
            if filled > MAX_ROWS + 1:
                raise ImportRefused(
                    [CellError(None, "", f"The file has more than {MAX_ROWS:,} members: split it into smaller files")]
                )
    except csv.Error as exc:
        raise ImportRefused(
            [CellError(reader.line_num, "", f"The file is not valid CSV near line {reader.line_num}: {exc}")]
        ) from None
    return records


def _header(org_id: int, header: list[str]) -> list[Column | None]:
    """The column of each header cell (None: a blank header), or every problem of the header row."""
    known = _names(org_id)
    found: list[Column | None] = []
    errors: list[CellError] = []
    seen: set[str] = set()
    for cell in header:
        name = cell.strip()
        column = known.get(_header_key(name)) if name else None
        if name and column is None:
            errors.append(CellError(1, name[:100], "Unknown column: use the headers of the template"))
        elif column is not None and column.key in seen:
            errors.append(CellError(1, name[:100], f"The {column.header} column appears twice"))
        elif column is not None:
            seen.add(column.key)
        found.append(column)
    for key in ("name", "email"):
        if key not in seen:
            errors.append(CellError(1, FIELD_LABELS[key], f"The {FIELD_LABELS[key]} column is missing"))
    if errors:
        raise ImportRefused(errors)
    return found


def read(org_id: int, data: bytes) -> Upload:
    """Read an uploaded file: its header and its rows (blank ones left out); ``ImportRefused`` when it cannot be."""
    records = _records(_text(data))
    start = next((i for i, record in enumerate(records) if any(cell.strip() for cell in record)), None)
    if start is None:
        raise ImportRefused([CellError(None, "", "The file is empty: fill in the template and upload it again")])
    header = _header(org_id, records[start])
    upload = Upload([c for c in header if c is not None], [])
    for index in range(start + 1, len(records)):
        record, number = records[index], index + 1
        if not any(cell.strip() for cell in record):
            continue
        cells: dict[str, str] = {}
        for position, cell in enumerate(record):
            column = header[position] if position < len(header) else None
            if column is not None and cell.strip():
                cells[column.key] = cell
            elif column is None and cell.strip():
                upload.row_errors.setdefault(number, []).append(
                    CellError(number, f"column {position + 1}", "A value in a column without a header")
                )
        upload.rows.append((number, cells))
    if not upload.rows:
        raise ImportRefused([CellError(None, "", "The file has no members below its header row")])
    return upload


# ---------------------------------------------------------------- applying the rows


class _Discard(Exception):
    """Roll a row's savepoint back: the row has errors, so none of it is kept."""


@dataclass
class _Context:
    """What every row of one import shares: its columns' headers, the workforce types, the emails seen."""

    org_id: int
    actor: Actor
    headers: dict[str, str]
    types: dict[str, int]
    #: the compared email (``norm``) of each member of the organization that a row names -> its id
    matches: dict[str, int] = field(default_factory=dict)
    seen: dict[str, int] = field(default_factory=dict)

    def header(self, key: str) -> str:
        return self.headers.get(key) or FIELD_LABELS.get(key, key)


def _source_name(source_id: int) -> str:
    return db.session.scalar(select(SyncSource.name).where(SyncSource.id == source_id)) or ""


def _email_key(email: str | None) -> str | None:
    """The email as the members' unique column compares it; None when no member can have it."""
    text = (email or "").strip()
    if not text or text_problem(text, Member.email) is not None:
        return None  # the writer refuses it, by the Email column
    return norm(text)


def _matches(org_id: int, upload: Upload) -> dict[str, int]:
    """The members the rows' emails name, in one statement per ``_LOOKUP_CHUNK`` emails (not one per row)."""
    keys = sorted({key for _number, cells in upload.rows if (key := _email_key(cells.get("email")))})
    found: dict[str, int] = {}
    for start in range(0, len(keys), _LOOKUP_CHUNK):
        rows = db.session.execute(
            select(Member.email_norm, Member.id).where(
                Member.org_id == org_id, Member.email_norm.in_(keys[start : start + _LOOKUP_CHUNK])
            )
        )
        found.update((email, member_id) for email, member_id in rows if email is not None)
    return found


def _match(
    ctx: _Context, number: int, email: str | None, errors: list[CellError]
) -> tuple[members.MemberRecord | None, bool]:
    """The member the row's email names, if any, and whether an earlier row has the email (an error)."""
    key = _email_key(email)
    if key is None:
        return None, False
    first = ctx.seen.setdefault(key, number)
    if first != number:
        errors.append(CellError(number, ctx.header("email"), f"The same email is on row {first}"))
    member_id = ctx.matches.get(key)
    return (members.get_by_id(member_id) if member_id is not None else None), first != number


def _references(ctx: _Context, number: int, values: dict[str, Any], errors: list[CellError]) -> None:
    """Replace the department and workforce type named by the ids the writer takes; an unknown one is an error."""
    department = values.pop("department", None)
    if department is not None:
        problem = text_problem(department.strip(), Department.name, label=ctx.header("department"))
        found = None if problem else lookup_department(ctx.org_id, department.strip())
        if problem or found is None:
            message = problem or f"No department is named {department.strip()!r}: add it on the Departments tab first"
            errors.append(CellError(number, ctx.header("department"), message))
        else:
            values["department_ids"] = [found[0]]
    kind = values.pop("employee_type", None)
    if kind is not None:
        type_id = ctx.types.get(norm(kind.strip()) or "")
        if type_id is None:
            errors.append(
                CellError(number, ctx.header("employee_type"), f"No workforce type is named {kind.strip()!r}")
            )
        else:
            values["employee_type_id"] = type_id


def _write(
    ctx: _Context, existing: members.MemberRecord | None, values: dict[str, Any], custom: dict[str, str]
) -> tuple[str, str]:
    """One row through the writer: create, or update a member made in the Admin Console; what it did, to whom."""
    if existing is None:
        shown = members.create_member(ctx.org_id, values, ctx.actor, log=False)
        if custom:
            shown = members.set_custom_fields(ctx.org_id, shown.id, custom, ctx.actor, log=False)
        action = "create"
    else:
        shown = members.update_member(ctx.org_id, existing.id, values, ctx.actor, log=False)
        if custom:
            shown = members.set_custom_fields(ctx.org_id, existing.id, custom, ctx.actor, log=False)
        action = "unchanged" if shown.version == existing.version else "update"
    return action, f"{shown.name} ({shown.email or shown.external_id})"


def _set_aside(refused: str, number: int, values: dict[str, Any], custom: dict[str, str], creating: bool) -> bool:
    """Take the refused value out of the row, so that checking it again finds the row's next error.

    A create's required value gets a stand-in instead (the row has an error: it is never written).
    False when the refusal names nothing to set aside: the row's errors are all found.
    """
    if refused.startswith("custom."):
        return custom.pop(refused[len("custom.") :], None) is not None
    if creating and refused in _STAND_INS:
        if _is_stand_in(refused, number, values):
            return False
        stand_in = _STAND_INS[refused].format(row=number)
        if refused == "email" and values.get("external_id") == values.get("email"):
            values["external_id"] = stand_in  # the user ID taken from the email stands in with it
        values[refused] = stand_in
        return True
    return values.pop(refused, None) is not None


def _is_stand_in(key: str, number: int, values: dict[str, Any]) -> bool:
    return key in _STAND_INS and values.get(key) == _STAND_INS[key].format(row=number)


def _refusals(exc: DomainError) -> dict[str, str]:
    """Each field the writer refused, with its message: a form's ``Invalid`` names every field at fault."""
    if isinstance(exc, Invalid) and exc.errors:
        return dict(exc.errors)
    return {exc.field or "": exc.message}


def _cell_error(ctx: _Context, number: int, refused: str, message: str, from_email: bool) -> CellError:
    """The writer's refusal of a field as an error of the row's cell: the column the refused value came from."""
    if refused == "external_id" and from_email:
        return CellError(number, ctx.header("email"), f"As the user ID (ExternalID): {message}")
    if refused.startswith("custom."):
        return CellError(number, ctx.headers.get(refused, refused[len("custom.") :]), message)
    return CellError(number, ctx.header(_REFUSED_FIELDS.get(refused, refused)), message)


def _row(ctx: _Context, number: int, cells: dict[str, str], errors: list[CellError]) -> RowReport:
    """Check and write one row in a savepoint: kept only when the row has no error at all."""
    report = RowReport(number, "error", cells.get("name", "").strip(), cells.get("email", "").strip(), errors)
    values: dict[str, Any] = {k: v for k, v in cells.items() if not k.startswith("custom.")}
    custom = {k[len("custom.") :]: v for k, v in cells.items() if k.startswith("custom.")}
    existing, repeated = _match(ctx, number, values.get("email"), errors)
    if existing is not None and existing.source_id is not None:
        errors.append(
            CellError(
                number,
                ctx.header("email"),
                f"{existing.name} is synced from the sync source {_source_name(existing.source_id)}: "
                "an import never changes synced members",
            )
        )
        return report
    _references(ctx, number, values, errors)
    creating = existing is None
    from_email = creating and not values.get("external_id")
    if from_email:
        values["external_id"] = values.get("email")
    # A refusal of a user ID taken from an empty email: the email's own refusal, next, says it better.
    held: list[CellError] = []
    # A repeated email is the row's error already: checked with a stand-in, the rest of the row is still checked.
    stood_in = repeated and creating and _set_aside("email", number, values, custom, creating)
    # Each pass finds the writer's next refusal, the refused value set aside; at most one pass per value.
    for _attempt in range(len(values) + len(custom) + 1):
        try:
            with db.session.begin_nested():
                action, label = _write(ctx, existing, values, custom)
                if errors or stood_in:
                    raise _Discard
        except _Discard:
            break
        except DomainError as exc:
            progressed = False
            for refused, message in _refusals(exc).items():
                if creating and _is_stand_in(refused, number, values):
                    continue  # a stand-in's own refusal: the row's error was the value it stands in for
                quiet = from_email and refused == "external_id" and not values.get("email")
                (held if quiet else errors).append(_cell_error(ctx, number, refused, message, from_email))
                stood_in = stood_in or (creating and refused in _STAND_INS)
                progressed = _set_aside(refused, number, values, custom, creating) or progressed
            if not progressed:
                break
            continue
        report.action, report.label = action, label
        break
    if report.action == "error" and not errors:
        errors.extend(held)
    return report


def _apply(org_id: int, upload: Upload, actor: Actor, filename: str) -> ImportReport:
    """Every row through the writer, in the caller's transaction; rows with errors keep nothing."""
    ctx = _Context(
        org_id,
        actor,
        headers={c.key: c.header for c in upload.columns},
        types={norm(t.name) or "": t.id for t in workforce.workforce_types(org_id)},
        matches=_matches(org_id, upload),
    )
    rows = [_row(ctx, number, cells, list(upload.row_errors.get(number, []))) for number, cells in upload.rows]
    return ImportReport(filename, rows)


def preview(org_id: int, data: bytes, filename: str, actor: Actor) -> ImportReport:
    """What importing the file would do, row by row, with every error; nothing is written (a savepoint rolled back)."""
    upload = read(org_id, data)
    savepoint = db.session.begin_nested()
    try:
        return _apply(org_id, upload, actor, filename)
    finally:
        savepoint.rollback()


def confirm(org_id: int, data: bytes, filename: str, actor: Actor) -> ImportReport:
    """Import the file: every row, or none when any row has an error; one "Import members" Admin log entry."""
    upload = read(org_id, data)
    savepoint = db.session.begin_nested()
    try:
        report = _apply(org_id, upload, actor, filename)
    except BaseException:
        savepoint.rollback()
        raise
    if report.errors:
        savepoint.rollback()
        return report
    savepoint.commit()
    created, updated = report.labels("create"), report.labels("update")
    counts = (
        f"{count_text(len(created), 'member')} created, {len(updated):,} updated, "
        f"{report.count('unchanged'):,} unchanged"
    )
    admin_log.record(
        actor,
        org_id,
        "Import members",
        target_type="members",
        target_name=(filename or "CSV file")[:255],
        changes={"members created": [None, created], "members updated": [None, updated]},
        summary=f"Imported {filename or 'a CSV file'}: {counts}. "
        f"Created: {', '.join(created) or 'none'}. Updated: {', '.join(updated) or 'none'}.",
    )
    return report
