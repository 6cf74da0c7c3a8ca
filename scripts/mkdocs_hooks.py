"""MkDocs hooks of the documentation site (``mkdocs.yml``: ``hooks``).

``reference/cli.md`` is generated from the command line itself at every build
(``rcsqualify.cli.reference``), never written by hand nor committed: the reference
cannot drift from the options, environment variables and defaults the code has.
"""

from __future__ import annotations

from typing import Any

from mkdocs.structure.files import File, Files

REFERENCE_PAGE = "reference/cli.md"


def on_files(files: Files, config: Any) -> Files:
    from rcsqualify.cli.reference import reference_markdown

    files.append(File.generated(config, REFERENCE_PAGE, content=reference_markdown()))
    return files
