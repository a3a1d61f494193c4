"""member search (SQLite): the index follows a numbered list of changes instead of taking members off a queue

SQLite only. Under migration 0011, every batch of the search index took its members off the queue
``member_search_pending``: a write of the main file, under its write lock, by a thread at a lower CPU
priority. Under load that write held the lock for 8.7 ms at p90 and up to 39 ms (BENCHMARKS.md), and
every request's write waited behind it. Now:

- ``member_search_changes`` holds one row per member: the number of the member's last change
  (``seq``), counted over all the members, so a change always gets a higher number than every one
  committed before it (SQLite has one writer at a time). Three triggers keep it; a deleted member's
  row stays until the index has forgotten the member;
- the search file records the number it has indexed through, and the members past it are the ones
  it does not hold yet: a batch writes the search file only;
- ``member_search_numbering`` holds the last number given (``last_seq``: a deleted member's row
  goes once the index has forgotten it, so the rows' highest number cannot be the counter) and a
  random ``epoch`` made here, which the search file records with its number: a search file indexed
  under another numbering (before a downgrade and this upgrade again) starts over instead of
  trusting a number that means something else now.

Every member is numbered here (its id as its number), so the first batches index them all again.

Downgrade puts 0011's queue back, with every member queued.

Revision ID: 0012
Revises: 0011
Create Date: 2027-01-14 10:00:00

"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_CHANGES = "member_search_changes"
_NUMBERING = "member_search_numbering"
_PENDING = "member_search_pending"
_TRIGGERS = ("members_search_insert", "members_search_delete", "members_search_update")


def _triggers(change: str) -> tuple[str, ...]:
    return (
        f"CREATE TRIGGER members_search_insert AFTER INSERT ON members BEGIN {change.format(row='new')} END",
        f"CREATE TRIGGER members_search_delete AFTER DELETE ON members BEGIN {change.format(row='old')} END",
        "CREATE TRIGGER members_search_update AFTER UPDATE OF search_text ON members"
        f" WHEN old.search_text IS NOT new.search_text BEGIN {change.format(row='old')} END",
    )


_NUMBERED = _triggers(
    f"UPDATE {_NUMBERING} SET last_seq = last_seq + 1;"
    f" INSERT INTO {_CHANGES}(member_id, seq) VALUES ({{row}}.id, (SELECT last_seq FROM {_NUMBERING}))"
    " ON CONFLICT(member_id) DO UPDATE SET seq = excluded.seq;"
)
# Migration 0011's, as they were.
_QUEUED = _triggers(
    f"INSERT INTO {_PENDING}(member_id, seq) VALUES ({{row}}.id, 1) ON CONFLICT(member_id) DO UPDATE SET seq = seq + 1;"
)


def upgrade():
    if op.get_bind().dialect.name != "sqlite":
        return
    for name in _TRIGGERS:
        op.execute(f"DROP TRIGGER {name}")
    op.execute(f"DROP TABLE {_PENDING}")
    op.execute(f"CREATE TABLE {_CHANGES} (member_id INTEGER PRIMARY KEY, seq INTEGER NOT NULL)")
    op.execute(f"CREATE UNIQUE INDEX {_CHANGES}_seq ON {_CHANGES} (seq)")
    op.execute(
        f"CREATE TABLE {_NUMBERING} (id INTEGER PRIMARY KEY CHECK (id = 1), epoch TEXT NOT NULL,"
        " last_seq INTEGER NOT NULL)"
    )
    op.execute(f"INSERT INTO {_CHANGES}(member_id, seq) SELECT id, id FROM members")
    op.execute(
        f"INSERT INTO {_NUMBERING}(id, epoch, last_seq)"
        f" SELECT 1, lower(hex(randomblob(16))), coalesce(max(seq), 0) FROM {_CHANGES}"
    )
    for statement in _NUMBERED:
        op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name != "sqlite":
        return
    for name in _TRIGGERS:
        op.execute(f"DROP TRIGGER {name}")
    op.execute(f"DROP TABLE {_CHANGES}")
    op.execute(f"DROP TABLE {_NUMBERING}")
    op.execute(f"CREATE TABLE {_PENDING} (member_id INTEGER PRIMARY KEY, seq INTEGER NOT NULL)")
    for statement in _QUEUED:
        op.execute(statement)
    op.execute(f"INSERT INTO {_PENDING}(member_id, seq) SELECT id, 1 FROM members")
