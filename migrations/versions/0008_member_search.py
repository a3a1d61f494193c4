"""member search and department order: a member's searchable values in one folded text, indexed for "contains"

- ``members.search_text``: ``models.member_search_text`` of the member (name, email, employee ID,
  userName and job title, accent-folded and lower-cased, one a line), written by the one member
  writer (``portal.core.members``). Backfilled here by the same function: SQLite has no accent
  folding in SQL, and a second definition in SQL would drift from the writer's.
- SQLite: the FTS5 table ``member_search`` (trigram tokenizer, so any substring of 3 characters or
  more is an index lookup) over ``members.search_text`` as external content, keyed by the member's
  id. Three triggers keep it in step with that one column: they are the index's maintenance, as
  SQLite does for a B-tree index, and they also see the deletes no writer makes (an organization's
  cleanup, the tests' emptying of tables). An external-content index that missed a delete would
  hand a reused id the old member's words.
- PostgreSQL: ``pg_trgm`` and a GIN ``gin_trgm_ops`` index on ``search_text``: ``LIKE '%term%'`` uses it.
- ``members.department_sort``: the ``name_norm`` of the member's first department by name ("" for
  none), so the Members page's order by department is read from an index
  (org_id, department_sort, name_norm, id) like the orders by name and status. Backfilled in SQL.

Neither structure is declared in the models (``models.SEARCH_STRUCTURES``, ``declared_in_models``).

Revision ID: 0008
Revises: 0007
Create Date: 2027-01-05 10:00:00

"""

import sqlalchemy as sa
from alembic import op

from portal.models import SEARCH_STRUCTURES, member_search_text

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_FTS = SEARCH_STRUCTURES["table"]
_TRGM = SEARCH_STRUCTURES["index"]
_BATCH = 2000

_SQLITE_UP = (
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
_SQLITE_DOWN = (
    "DROP TRIGGER members_search_update",
    "DROP TRIGGER members_search_delete",
    "DROP TRIGGER members_search_insert",
    f"DROP TABLE {_FTS}",
)


def _backfill(connection):
    """Every member's search text, a batch of rows at a time by id (no version bump: nothing the IdP sees)."""
    read = sa.text(
        "SELECT m.id, m.name, m.email, m.employee_id, m.external_id, t.name FROM members m"
        " LEFT JOIN job_titles t ON t.id = m.job_title_id WHERE m.id > :after ORDER BY m.id LIMIT :batch"
    )
    write = sa.text("UPDATE members SET search_text = :search_text WHERE id = :id")
    after = 0
    while True:
        rows = connection.execute(read, {"after": after, "batch": _BATCH}).all()
        if not rows:
            return
        connection.execute(write, [{"id": row[0], "search_text": member_search_text(*row[1:])} for row in rows])
        after = rows[-1][0]


_FIRST_DEPARTMENT = (
    "UPDATE members SET department_sort = coalesce((SELECT min(d.name_norm) FROM member_departments md"
    " JOIN departments d ON d.id = md.department_id WHERE md.member_id = members.id), '')"
)


def upgrade():
    op.add_column("members", sa.Column("search_text", sa.Text(), server_default=sa.text("''"), nullable=False))
    op.add_column(
        "members", sa.Column("department_sort", sa.String(length=200), server_default=sa.text("''"), nullable=False)
    )
    connection = op.get_bind()
    _backfill(connection)
    op.execute(_FIRST_DEPARTMENT)
    op.create_index(
        "ix_members_org_department_sort", "members", ["org_id", "department_sort", "name_norm", "id"], unique=False
    )
    if connection.dialect.name == "sqlite":
        for statement in _SQLITE_UP:
            op.execute(statement)
    else:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(f"CREATE INDEX {_TRGM} ON members USING gin (search_text gin_trgm_ops)")


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        for statement in _SQLITE_DOWN:
            op.execute(statement)
    else:
        op.execute(f"DROP INDEX {_TRGM}")
    op.drop_index("ix_members_org_department_sort", table_name="members")
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_column("department_sort")
        batch_op.drop_column("search_text")
