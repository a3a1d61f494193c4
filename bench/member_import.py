"""CSV member import: how long the preview and the confirm of a full file take (portal.core.member_import).

Run: ``.venv/bin/python bench/member_import.py [--rows 2000] [--database-url postgresql+psycopg://...]``

Both steps put every row through the console's member writer, one savepoint per row, so their time
grows with the rows; each must end well within the web worker's timeout (gunicorn.conf.py, 30 s),
which is why ``member_import.MAX_ROWS`` is what it is. Without ``--database-url``: a temporary
SQLite file; a PostgreSQL URL names an empty database that the run migrates and fills.
Not a test: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade  # noqa: E402

from portal import create_app  # noqa: E402
from portal.core import member_import, organizations  # noqa: E402
from portal.core.actors import Actor  # noqa: E402
from portal.extensions import db  # noqa: E402


def csv_file(rows: int) -> bytes:
    """A file of new members: name, email, employee ID, one of 50 job titles, a mobile number."""
    lines = ["Name,Email,Employee ID,Job title,Mobile"]
    lines += [f"Person {i},p{i}@bench.test,E-{i},Title {i % 50},+1 202 555 {i % 10000:04d}" for i in range(rows)]
    return "\n".join(lines).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=member_import.MAX_ROWS)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    logging.disable(logging.INFO)
    folder = tempfile.mkdtemp(prefix="bench-import-")
    url = args.database_url or f"sqlite:///{folder}/bench.db"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "JOBS_URL": "memory://"})
    data = csv_file(args.rows)
    try:
        with app.app_context():
            upgrade()
            org = organizations.create_organization(
                "Bench", "admin@bench.test", "bench password long enough", Actor.cli()
            )
            db.session.commit()
            for step in (member_import.preview, member_import.confirm):
                started = time.perf_counter()
                report = step(org.id, data, "bench.csv", Actor.cli())
                db.session.commit()
                seconds = time.perf_counter() - started
                print(
                    f"{step.__name__:8} {args.rows:6,} rows {len(data) / 1024:7.0f} KiB  {seconds:6.2f} s"
                    f"  {seconds / args.rows * 1000:5.2f} ms/row  errors {len(report.errors)}"
                )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
