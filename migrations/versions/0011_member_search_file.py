"""member search (SQLite): the index moves to a file of its own, kept up in batches from a queue

SQLite only (PostgreSQL's trigram index is unchanged). Migration 0008's FTS5 table and its three
triggers wrote the index inside every member write, under the database's write lock. Now:

- ``member_search_pending`` queues the members whose search text changed: their id and a count of
  their changes since they were queued (``seq``), kept by three triggers;
- every member is queued once here, so the first batches build the new index;
- the index itself is in ``<database>.search``, which ``portal.infra.search_index`` makes and
  fills (it is not this file's to migrate: a lost one is rebuilt from the members);
- 0008's table goes.

Downgrade builds 0008's table again from ``members.search_text`` and drops the queue.

Revision ID: 0011
Revises: 0010
Create Date: 2027-01-12 10:00:00

"""

from alembic import op

from portal.models import SEARCH_STRUCTURES

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_FTS = SEARCH_STRUCTURES["table"]
# Spelt out: migration 0012 replaced the queue, and models.SEARCH_STRUCTURES names what is there now.
_PENDING = "member_search_pending"
_TRIGGERS = ("members_search_insert", "members_search_delete", "members_search_update")


def _queue(row: str) -> str:
    return (
        f"INSERT INTO {_PENDING}(member_id, seq) VALUES ({row}.id, 1)"
        " ON CONFLICT(member_id) DO UPDATE SET seq = seq + 1;"
    )


_QUEUED = (
    f"CREATE TRIGGER members_search_insert AFTER INSERT ON members BEGIN {_queue('new')} END",
    f"CREATE TRIGGER members_search_delete AFTER DELETE ON members BEGIN {_queue('old')} END",
    "CREATE TRIGGER members_search_update AFTER UPDATE OF search_text ON members"
    f" WHEN old.search_text IS NOT new.search_text BEGIN {_queue('old')} END",
)
# Migration 0008's, as they were.
_IN_STEP = (
    f"CREATE VIRTUAL TABLE {_FTS} USING fts5(search_text, content='members', content_rowid='id', tokenize='trigram')",
    f"INSERT INTO {_FTS}({_FTS}) VALUES ('rebuild')",
    f"""CREATE TRIGGER members_search_insert AFTER INSERT ON members BEGIN
  INSERT INTO {_FTS}(rowid, search_text) VALUES (new.id, new.search_text);
END""",
    f"""CREATE TRIGGER members_search_delete AFTER DELETE ON members BEGIN
  INSERT INTO {_FTS}({_FTS}, rowid, search_text) VALUES ('delete', old.id, old.search_text);
END""",
    f"""CREATE TRIGGER members_search_update AFTER UPDATE OF search_text ON members BEGIN
  INSERT INTO {_FTS}({_FTS}, rowid, search_text) VALUES ('delete', old.id, old.search_text);
  INSERT INTO {_FTS}(rowid, search_text) VALUES (new.id, new.search_text);
END""",
)


def upgrade():
    if op.get_bind().dialect.name != "sqlite":
        return
    for name in _TRIGGERS:
        op.execute(f"DROP TRIGGER {name}")
    op.execute(f"DROP TABLE main.{_FTS}")
    # member_id is the rowid: a batch reads the queue in its order.
    op.execute(f"CREATE TABLE {_PENDING} (member_id INTEGER PRIMARY KEY, seq INTEGER NOT NULL)")
    for statement in _QUEUED:
        op.execute(statement)
    op.execute(f"INSERT INTO {_PENDING}(member_id, seq) SELECT id, 1 FROM members")


def downgrade():
    if op.get_bind().dialect.name != "sqlite":
        return
    for name in _TRIGGERS:
        op.execute(f"DROP TRIGGER {name}")
    op.execute(f"DROP TABLE {_PENDING}")
    for statement in _IN_STEP:
        op.execute(statement)
