"""The console's navigation: its sections and items, and what the signed-in admin may open."""

from __future__ import annotations

from dataclasses import dataclass

from flask_login import current_user


@dataclass(frozen=True)
class NavItem:
    label: str
    endpoint: str
    permission: str | None = None
    primary_only: bool = False

    def visible(self) -> bool:
        """Whether the signed-in admin may open it (the navigation hides the rest)."""
        if not current_user.is_authenticated:
            return False
        if self.primary_only:
            return current_user.is_primary
        return self.permission is None or current_user.can(self.permission)


#: The seed's navigation: section -> items.
NAV: tuple[tuple[str, tuple[NavItem, ...]], ...] = (
    (
        "Organization",
        (
            NavItem("Member and Department", "organization.members", "directory"),
            NavItem("User Group", "organization.groups", "directory"),
            NavItem("Field Management", "organization.fields", "directory"),
        ),
    ),
    (
        "Settings",
        (
            NavItem("Directory Sync", "directory_sync.index", "org_data_sync"),
            NavItem("Administrators", "administrators.index", primary_only=True),
            NavItem("API keys", "api_keys.index", "api_keys"),
            NavItem("Webhooks", "webhooks.index", "api_keys"),
        ),
    ),
    ("Compliance", (NavItem("Admin log", "admin_log.index", "admin_log"),)),
)


def visible_nav() -> list[tuple[str, list[NavItem]]]:
    """The navigation sections with only what the current admin may open."""
    sections = []
    for title, items in NAV:
        shown = [item for item in items if item.visible()]
        if shown:
            sections.append((title, shown))
    return sections
