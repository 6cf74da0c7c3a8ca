"""rcsqualify: qualify a French contact base before an RCS campaign on Orange's BotHub."""

__version__ = "0.1.0"


def dependency_version(name: str) -> str:
    """The installed version of the distribution ``name`` (a top-level package of the same
    name), from its metadata, never by importing it.

    The ``name-*.dist-info/METADATA`` beside the package is read directly: importing
    ``importlib.metadata`` (email, zipfile, csv…) costs ~8 ms of every check. Any other
    layout (egg-info, several dist-infos, a zipped install) asks ``importlib.metadata``.
    """
    from importlib.util import find_spec
    from pathlib import Path

    spec = find_spec(name)
    if spec is not None and spec.origin and spec.submodule_search_locations:
        site = Path(spec.origin).parent.parent
        found = list(site.glob(f"{name}-*.dist-info/METADATA"))
        if len(found) == 1:
            try:
                with found[0].open(encoding="utf-8") as fh:
                    for line in fh:
                        if not line.strip():
                            break  # the headers end at the first blank line
                        if line.startswith("Version:"):
                            return line.partition(":")[2].strip()
            except OSError:
                pass
    from importlib.metadata import version

    return version(name)
