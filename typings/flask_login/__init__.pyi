"""Types of the part of Flask-Login this project uses (Flask-Login 0.6 ships no type information).

Read by mypy only (``mypy_path`` in pyproject.toml). Without it ``Admin`` would subclass
an unknown ``UserMixin`` and every query of administrators would be typed ``Any``.
"""

from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from flask import Flask

_F = TypeVar("_F", bound=Callable[..., Any])

class UserMixin:
    @property
    def is_active(self) -> bool: ...
    @property
    def is_authenticated(self) -> bool: ...
    @property
    def is_anonymous(self) -> bool: ...
    def get_id(self) -> str: ...

class LoginManager:
    login_view: str | None
    session_protection: str | None
    def __init__(self, app: Flask | None = None, add_context_processor: bool = True) -> None: ...
    def init_app(self, app: Flask, add_context_processor: bool = True) -> None: ...
    def user_loader(self, callback: _F) -> _F: ...
    def unauthorized_handler(self, callback: _F) -> _F: ...

#: the signed-in administrator, or Flask-Login's anonymous user: a proxy typed by what the views read
current_user: Any

def login_user(
    user: UserMixin, remember: bool = False, duration: timedelta | None = None, force: bool = False, fresh: bool = True
) -> bool: ...
def logout_user() -> bool: ...
def login_required(func: _F) -> _F: ...
