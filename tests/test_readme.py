"""The README is the way in: it links the benchmark figures and the deployment guide (issue: proof, "Done when")."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
#: relative links and images of the README: [text](path) and ![alt](path), anchors cut
LOCAL_LINKS = sorted(
    {
        match.split("#")[0]
        for match in re.findall(r"\]\(([^)\s]+)\)", README)
        if not re.match(r"[a-z]+:", match) and not match.startswith("#")
    }
)


def test_the_readme_links_the_benchmarks_and_the_deployment_guide() -> None:
    assert "BENCHMARKS.md" in LOCAL_LINKS
    assert "docs/deploy.md" in LOCAL_LINKS


def test_every_file_the_readme_links_exists() -> None:
    missing = [link for link in LOCAL_LINKS if not (ROOT / link).exists()]
    assert LOCAL_LINKS and not missing
