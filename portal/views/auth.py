"""Sign in and sign out."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, current_app, redirect, request, url_for
from flask_login import current_user, login_user, logout_user

from portal.core import administrators
from portal.core.text import text_problem
from portal.views.administrators import link_url
from portal.views.web import render

from ..extensions import limiter

bp = Blueprint("auth", __name__)

BAD_CREDENTIALS = "Incorrect email or password."


def _safe_next(target: str | None) -> str:
    # Only same-site paths: an open redirect would hand the session to a phishing page. A control
    # character (CR/LF would split the Location header) or a backslash (browsers read "/\host" as
    # "//host") makes the target unsafe too: it is ignored, as a foreign one is.
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and target.isprintable()
        and "\\" not in target
        and not urlsplit(target).netloc
    ):
        return target
    return url_for("home.index")


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login() -> Any:
    """The sign-in page; one message for an unknown email and a wrong password."""
    if current_user.is_authenticated and request.method == "GET":
        return redirect(_safe_next(request.args.get("next")))
    error = None
    email = ""
    if request.method == "POST":
        email = request.form.get("email", "").strip()
        if text_problem(email) is not None:
            # No administrator's email holds a control character (PostgreSQL cannot even compare one with
            # NUL): it is no email, so the one message, after the same password check as any unknown email.
            email = ""
        admin = administrators.check_credentials(email, request.form.get("password", ""))
        if admin is None:
            error = BAD_CREDENTIALS
        else:
            login_user(admin)
            # last_login_at, set by check_credentials, is committed with the redirect (a 302).
            return redirect(_safe_next(request.args.get("next")))
    return render("auth/login.html", status=401 if error else 200, error=error, email=email)


@bp.route("/forgot-password", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def forgot_password() -> Any:
    """ "Forgot password?": a set-password link by email when SMTP_URL is set, else who to ask.

    The answer is the same whether the address belongs to an administrator or not, so the page tells no
    one who administers what; posts are limited as sign-ins are.
    """
    by_mail = administrators.links_by_mail()
    sent = False
    email = ""
    if request.method == "POST":
        email = request.form.get("email", "").strip()
        if by_mail and text_problem(email) is None:
            found = administrators.request_password_reset(email, request.remote_addr)
            if found is not None:
                admin, token = found
                administrators.send_set_password_link(admin, link_url(token))
        sent = True
    return render("auth/forgot_password.html", by_mail=by_mail, sent=sent, email=email if by_mail else "")


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    """Sign out (a POST, so a link from elsewhere cannot do it): every session of the admin ends, not only this one."""
    if current_user.is_authenticated:
        # A copy of the cookie taken before would still sign in: the bumped version refuses it (and every other).
        administrators.sign_out(current_user._get_current_object())
    logout_user()
    return redirect(url_for("auth.login"))
