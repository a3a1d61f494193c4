"""Settings > Directory Sync: the Sync App cards, the Add sync source wizard and the token lifecycle.

The wizard's step lives in the URL (``/<id>/setup?step=2``) so a reload gives the
full page back; what the administrator entered in earlier steps is kept on the
source (``wizard_state``, which SCIM never reads) until **Save**, so going back
keeps it, "Continue setup" works in another browser, and nothing reaches the
sync source's settings (and the next SCIM request) before the Preview is confirmed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import Blueprint, current_app, flash, g, redirect, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from portal.core import notifications, sync_sources, sync_stats, token_expiry, workforce
from portal.core.errors import DomainError
from portal.core.text import text_problem
from portal.views.access import require
from portal.views.charts import Chart, Column, Series, bar_chart
from portal.views.web import current_actor, form_id, refusal, render, wants_fragment

from ..models import (
    MATCH_ATTRIBUTE_LABELS,
    MATCH_ATTRIBUTES,
    MAX_WORKFORCE_RULES,
    PROVIDER_LABELS,
    PROVIDERS,
    SyncSource,
)

bp = Blueprint("directory_sync", __name__, url_prefix="/settings/directory-sync")

STEPS = ("Configure access security", "Set attributes", "General settings", "Preview")
#: which wizard step shows a field a domain error names
_STEP_OF_FIELD = {"workforce_rules": 2, "name": 3, "deletion_rule": 3, "notified_admin_ids": 3, "match_attributes": 3}


# ---------------------------------------------------------------- helpers


def scim_base_url(source: SyncSource) -> str:
    """The Base URL an identity provider is given (built by the core): PUBLIC_BASE_URL, else this request's root."""
    return sync_sources.scim_base_url(source, fallback=request.url_root)


def _navigate(url: str) -> Response:
    """Go to ``url`` as a full page: HX-Redirect for htmx, 303 otherwise."""
    if wants_fragment():
        response = current_app.response_class("", 204)
        response.headers["HX-Redirect"] = url
        return response
    return redirect(url, 303)


def _issue(source: SyncSource, token: str) -> None:
    # The token lives only in this response: never in the session cookie, the database has its hash alone.
    g.issued_token = (source.id, token)


def _take_token(source: SyncSource) -> str | None:
    issued = g.get("issued_token")
    return issued[1] if issued and issued[0] == source.id else None


def _card_context(sources: list[SyncSource]) -> dict[str, Any]:
    return {
        "counts": sync_sources.members_synced(current_user.org_id, [s.id for s in sources]),
        "health": sync_stats.health(current_user.org_id, [s.id for s in sources]),
        "provider_logo": _provider_logo,
        "scim_base_url": scim_base_url,
        "connection_state": sync_sources.connection_state,
        "token_warning": token_expiry.warning_for,
    }


def _provider_logo(provider: str) -> str:
    """The URL of the provider's mark (static/img/providers: the provider's initials on its colour)."""
    return url_for("static", filename=f"img/providers/{provider if provider in PROVIDERS else 'generic'}.svg")


# ---------------------------------------------------------------- health charts

REQUEST_SERIES = (Series("success", "Succeeded", "chart-success"), Series("failure", "Failed", "chart-failure"))
MEMBER_SERIES = (
    Series("created", "Created", "chart-created"),
    Series("updated", "Updated", "chart-updated"),
    Series("suspended", "Suspended", "chart-suspended"),
)


def _requests_summary(period: str) -> Callable[[list[Column]], str]:
    def describe(columns: list[Column]) -> str:
        ok = sum(c.values["success"] for c in columns)
        failed = sum(c.values["failure"] for c in columns)
        if not ok + failed:
            return f"No requests in {period}."
        busiest = max(columns, key=lambda c: c.values["success"] + c.values["failure"])
        return (
            f"{ok + failed:,} requests in {period}: {ok:,} succeeded, {failed:,} failed. "
            f"The busiest was {busiest.name} with {busiest.values['success'] + busiest.values['failure']:,}."
        )

    return describe


def _members_summary(columns: list[Column]) -> str:
    totals = {s.key: sum(c.values[s.key] for c in columns) for s in MEMBER_SERIES}
    if not any(totals.values()):
        return "No members created, updated or suspended in the last 7 days."
    return (
        f"In the last 7 days: {totals['created']:,} members created, {totals['updated']:,} updated "
        f"and {totals['suspended']:,} suspended."
    )


def _charts(source: SyncSource) -> list[Chart]:
    """The details page's charts, from the Sync log (one grouped query, ``sync_stats.charts``)."""
    figures = sync_stats.charts(current_user.org_id, source.id)
    hour = timedelta(hours=1)
    return [
        bar_chart(
            "chart-hourly",
            "Requests per hour, last 24 hours (UTC)",
            figures.hourly,
            REQUEST_SERIES,
            label=lambda _i, b: b.start.strftime("%H:00") if b.start.hour % 4 == 0 else "",
            name=lambda b: f"{b.start:%b %d, %H:00}–{b.start + hour:%H:00} UTC",
            describe=_requests_summary("the last 24 hours"),
            stacked=True,
        ),
        bar_chart(
            "chart-daily",
            "Requests per day, last 7 days (UTC)",
            figures.daily,
            REQUEST_SERIES,
            label=lambda _i, b: f"{b.start:%a} {b.start.day}",
            name=lambda b: b.start.strftime("%a, %b %d"),
            describe=_requests_summary("the last 7 days"),
            stacked=True,
        ),
        bar_chart(
            "chart-members",
            "Members created, updated and suspended per day",
            figures.members,
            MEMBER_SERIES,
            label=lambda _i, b: f"{b.start:%a} {b.start.day}",
            name=lambda b: b.start.strftime("%a, %b %d"),
            describe=_members_summary,
            stacked=False,
        ),
    ]


# ---------------------------------------------------------------- wizard state


def _saved_state(source: SyncSource) -> dict[str, Any]:
    return {
        "name": source.name,
        "rules": [dict(r) for r in source.workforce_rules or []],
        "deletion_rule": source.deletion_rule,
        "notified_admin_ids": list(source.notified_admin_ids or []),
        "match_attributes": list(source.match_attributes or []),
        "username_is_email": source.username_is_email,
    }


def _state(source: SyncSource) -> dict[str, Any]:
    # The saved settings fill in what a wizard begun before a setting existed has not kept.
    return {**_saved_state(source), **(source.wizard_state or {})}


def _keep_state(source: SyncSource, state: dict[str, Any]) -> None:
    sync_sources.keep_wizard_state(source, state)


def _drop_state(source: SyncSource) -> None:
    if source.wizard_state is not None:
        sync_sources.keep_wizard_state(source, None)


def _rules_from_form() -> list[dict[str, Any]]:
    values = request.form.getlist("rule_value")
    types = request.form.getlist("rule_type")
    rows = []
    # A form that sent more of one field than the other: the unpaired tail is dropped, as before.
    for value, type_id in zip(values, types, strict=False):
        rows.append({"value": value.strip(), "workforce_type_id": form_id(type_id)})
    return rows


def _read_step(step: int, state: dict[str, Any]) -> None:
    """Copy the posted fields of ``step`` into the wizard state."""
    if step == 2:
        state["rules"] = _rules_from_form()
    elif step == 3:
        state["name"] = request.form.get("name", "").strip()
        state["deletion_rule"] = request.form.get("deletion_rule", "")
        # An id past MAX_ID stays in as UNKNOWN_ID: no administrator has it, so Save refuses the choice.
        state["notified_admin_ids"] = [
            i for i in (form_id(raw) for raw in request.form.getlist("notified_admin_id")) if i is not None
        ]
        state["match_attributes"] = [a for a in MATCH_ATTRIBUTES if a in request.form.getlist("match_attribute")]
        # The form sends "off" (a hidden input) then "on" when checked; a post without either keeps the value.
        rule = request.form.getlist("username_is_email")
        if rule:
            state["username_is_email"] = "on" in rule


def _step_errors(step: int, state: dict[str, Any]) -> dict[str, str]:
    """What keeps the administrator on ``step``; the domain checks everything again on Save."""
    if step == 2:
        # A row left entirely blank is not a rule.
        state["rules"] = [r for r in state["rules"] if r["value"] or r["workforce_type_id"]]
        return sync_sources.workforce_rule_errors(current_user.org_id, state["rules"])
    if step == 3 and not state["name"]:
        return {"name": "Enter a name for this sync source."}
    if step == 3 and (problem := text_problem(state["name"], SyncSource.name, label="Sync source name")):
        return {"name": problem}
    return {}


def _render_wizard(
    source: SyncSource, step: int, state: dict[str, Any], *, errors: dict[str, str] | None = None, status: int = 200
) -> Response:
    org_id = current_user.org_id
    workforce_types = workforce.workforce_types(org_id)
    rules = state["rules"] or ([{"value": "", "workforce_type_id": None}] if step == 2 else [])
    return render(
        "directory_sync/wizard.html",
        "directory_sync/_wizard.html",
        status=status,
        source=source,
        step=step,
        steps=STEPS,
        step_urls=[url_for(".setup", source_id=source.id, step=n) for n in range(1, len(STEPS) + 1)],
        state=state,
        rules=rules,
        errors=errors or {},
        token=_take_token(source) if step == 1 else None,
        scim_url=scim_base_url(source),
        workforce_types=workforce_types,
        type_names={t.id: t.name for t in workforce_types},
        sync_admins=notifications.sync_admins(org_id),
        max_rules=MAX_WORKFORCE_RULES,
        deletion_rules=sync_sources.DELETION_RULE_LABELS,
        match_labels=MATCH_ATTRIBUTE_LABELS,
        username_rule_label=sync_sources.USERNAME_IS_EMAIL_LABEL,
        title="Edit sync source" if source.status != "draft" else "Add sync source",
    )


def _show_issued(response: Response, url: str) -> Response:
    """A page showing a just-issued token, answered to the POST itself rather than after a redirect.

    A redirect would need the token to survive until the next request (a signed, not
    encrypted, session cookie); answering directly keeps it in this one response.
    htmx moves the address bar to ``url``; a reload shows the page without the token.
    """
    response.headers["HX-Push-Url"] = url
    response.headers["Cache-Control"] = "no-store"
    return response


def _goto_step(source: SyncSource, step: int, state: dict[str, Any]) -> Response:
    url = url_for(".setup", source_id=source.id, step=step)
    if wants_fragment():
        response = _render_wizard(source, step, state)
        response.headers["HX-Push-Url"] = url
        return response
    return redirect(url, 303)


# ---------------------------------------------------------------- list, add


@bp.route("/")
@require("org_data_sync")
def index() -> Any:
    """The Sync App cards, or an empty state explaining sync sources."""
    sources = sync_sources.list_sources(current_user.org_id)
    return render("directory_sync/index.html", sources=sources, title="Directory Sync", **_card_context(sources))


@bp.route("/new")
@require("org_data_sync")
def new() -> Any:
    """The sync source panel: choose the identity provider."""
    return _providers_panel()


def _providers_panel(error: str | None = None) -> Any:
    return render(
        "directory_sync/new.html",
        "directory_sync/_providers.html",
        status=422 if error else 200,
        providers=PROVIDERS,
        provider_labels=PROVIDER_LABELS,
        title="Add sync source",
        error=error,
    )


@bp.route("/new", methods=["POST"])
@require("org_data_sync")
def create() -> Any:
    """Create the draft source (token issued, SCIM still denied) and open step 1 of the wizard.

    Choosing a provider again (after Back, or from another tab) goes on with the draft of that provider this
    administrator left, its token and entries kept, rather than making a second identical one.
    """
    draft = sync_sources.reusable_draft(current_user.org_id, request.form.get("provider", ""), current_user.id)
    if draft is not None:
        return _navigate(url_for(".setup", source_id=draft.id, step=1))
    try:
        source, token = sync_sources.create_source(
            current_user.org_id, request.form.get("provider", ""), current_actor()
        )
    except DomainError as exc:
        refusal(exc)
        return _providers_panel(exc.message)
    _issue(source, token)
    return _show_issued(_render_wizard(source, 1, _saved_state(source)), url_for(".setup", source_id=source.id, step=1))


# ---------------------------------------------------------------- wizard


@bp.route("/<int:source_id>/setup")
@require("org_data_sync")
def setup(source_id: int) -> Any:
    """One step of the wizard, with the values entered so far."""
    source = sync_sources.get_source(current_user.org_id, source_id)
    step = min(max(request.args.get("step", 1, type=int), 1), len(STEPS))
    return _render_wizard(source, step, _state(source))


@bp.route("/<int:source_id>/edit")
@require("org_data_sync")
def edit(source_id: int) -> Any:
    """Reopen the wizard filled in with the saved configuration."""
    source = sync_sources.get_source(current_user.org_id, source_id)
    _drop_state(source)
    return redirect(url_for(".setup", source_id=source.id, step=1))


@bp.route("/<int:source_id>/setup", methods=["POST"])
@require("org_data_sync")
def setup_post(source_id: int) -> Any:
    """Back, Next, Save, or Save and Activate."""
    source = sync_sources.get_source(current_user.org_id, source_id)
    step = min(max(request.form.get("step", 1, type=int), 1), len(STEPS))
    state = _state(source)
    _read_step(step, state)
    action = request.form.get("nav", "next")

    if action == "back":
        _keep_state(source, state)
        return _goto_step(source, max(step - 1, 1), state)

    if action in ("save", "activate") and step == len(STEPS):
        return _save(source, state, activate=action == "activate")

    errors = _step_errors(step, state)
    _keep_state(source, state)
    if errors:
        return _render_wizard(source, step, state, errors=errors, status=422)
    return _goto_step(source, min(step + 1, len(STEPS)), state)


def _save(source: SyncSource, state: dict[str, Any], *, activate: bool) -> Response:
    """Preview's Save (a draft becomes inactive) or Save and Activate."""
    actor = current_actor()
    try:
        sync_sources.configure_source(
            current_user.org_id,
            source.id,
            actor,
            name=state["name"],
            workforce_rules=state["rules"],
            deletion_rule=state["deletion_rule"],
            notified_admin_ids=state["notified_admin_ids"],
            match_attributes=state["match_attributes"],
            username_is_email=state["username_is_email"],
        )
        if activate or source.status == "draft":
            sync_sources.set_active(current_user.org_id, source.id, activate, actor)
    except DomainError as exc:
        errors = refusal(exc, default="")
        field = exc.field or ""
        step = _STEP_OF_FIELD.get(field.split(".")[0], len(STEPS))
        response = _render_wizard(source, step, state, errors=errors, status=422)
        response.headers["HX-Push-Url"] = url_for(".setup", source_id=source.id, step=step)
        return response
    _drop_state(source)
    flash(
        f"{source.name} is saved and active: {source.provider_label} can sync now."
        if source.status == "active"
        else f"{source.name} is saved but not active: requests from {source.provider_label} are denied until you "
        "activate it.",
        "success" if source.status == "active" else "info",
    )
    return _navigate(url_for(".index"))


# ---------------------------------------------------------------- one source


@bp.route("/<int:source_id>")
@require("org_data_sync")
def detail(source_id: int) -> Any:
    """The sync configuration details page."""
    return _detail_page(sync_sources.get_source(current_user.org_id, source_id))


def _detail_page(source: SyncSource) -> Response:
    workforce_types = workforce.workforce_types(current_user.org_id)
    return render(
        "directory_sync/detail.html",
        source=source,
        title=source.name,
        token=_take_token(source),
        type_names={t.id: t.name for t in workforce_types},
        admin_emails={a.id: a.display_name for a in notifications.sync_admins(current_user.org_id)},
        deletion_rules=sync_sources.DELETION_RULE_LABELS,
        match_labels=MATCH_ATTRIBUTE_LABELS,
        username_rule_label=sync_sources.USERNAME_IS_EMAIL_LABEL,
        charts=_charts(source),
        **_card_context([source]),
    )


@bp.route("/<int:source_id>/connection")
@require("org_data_sync")
def connection(source_id: int) -> Any:
    """The connection badge alone, polled by the card until the source is connected."""
    source = sync_sources.get_source(current_user.org_id, source_id, include_deleted=True)
    if source.is_deleted:
        # 286 tells htmx to stop polling: the source was deleted in another window.
        return current_app.response_class("", 286)
    return render("directory_sync/_connection.html", source=source, state=sync_sources.connection_state(source))


def _after_change(source: SyncSource) -> Response:
    """The card again for htmx, else back to where the admin came from."""
    if wants_fragment():
        return render("directory_sync/_card.html", source=source, **_card_context([source]))
    back = url_for(".detail", source_id=source.id) if request.form.get("back") == "detail" else url_for(".index")
    return redirect(back, 303)


@bp.route("/<int:source_id>/activate", methods=["POST"])
@require("org_data_sync")
def activate(source_id: int) -> Any:
    """Activate: SCIM requests are accepted from now on."""
    source = sync_sources.get_source(current_user.org_id, source_id)
    return _after_change(sync_sources.set_active(current_user.org_id, source.id, True, current_actor()))


@bp.route("/<int:source_id>/deactivate", methods=["POST"])
@require("org_data_sync")
def deactivate(source_id: int) -> Any:
    """Deactivate: every SCIM request is denied until activated again."""
    source = sync_sources.get_source(current_user.org_id, source_id)
    return _after_change(sync_sources.set_active(current_user.org_id, source.id, False, current_actor()))


@bp.route("/<int:source_id>/delete", methods=["POST"])
@require("org_data_sync")
def delete(source_id: int) -> Any:
    """Delete for good; members already synced keep their data."""
    source = sync_sources.get_source(current_user.org_id, source_id)
    sync_sources.delete_source(current_user.org_id, source.id, current_actor())
    _drop_state(source)
    flash(
        f"{source.name} was deleted. Its token no longer works; synced members were kept as Admin Console members.",
        "success",
    )
    return _navigate(url_for(".index"))


@bp.route("/<int:source_id>/token", methods=["POST"])
@require("org_data_sync")
def refresh(source_id: int) -> Any:
    """Refresh token: the old token dies now, the new one is shown once."""
    source = sync_sources.get_source(current_user.org_id, source_id)
    token = sync_sources.refresh_token(current_user.org_id, source.id, current_actor())
    _issue(source, token)
    if request.form.get("back") == "wizard":
        return _show_issued(_render_wizard(source, 1, _state(source)), url_for(".setup", source_id=source.id, step=1))
    return _show_issued(_detail_page(source), url_for(".detail", source_id=source.id))
