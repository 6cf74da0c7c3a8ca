"""What type checkers see of ``import rcsqualify`` (issue #27 item 2).

``__init__.py`` loads the Python API on first use (``__getattr__``), so that
``import rcsqualify`` imports neither pandas, pyarrow nor httpx; a type checker cannot
follow that, and would see ``rcsqualify.qualify`` as ``Any``. This stub names the same
objects, typed: ``rcsqualify.qualify`` is ``rcsqualify.api.qualify``. A test holds it
to the module's public names, and runs mypy on a call through it.
"""

from rcsqualify.api import QualifyOptions as QualifyOptions
from rcsqualify.api import qualify as qualify
from rcsqualify.result import Report as Report
from rcsqualify.result import Result as Result

__version__: str

def dependency_version(name: str) -> str: ...
def __dir__() -> list[str]: ...
