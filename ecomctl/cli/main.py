"""Entry point: registers the commands on the app (in pipeline order, as help lists them) and runs it."""

from ecomctl.cli.app import app
from ecomctl.cli.commands import setup  # noqa: F401  (registration order = help order)
from ecomctl.cli.commands import generate  # noqa: F401
from ecomctl.cli.commands import send  # noqa: F401
from ecomctl.cli.commands import ingest  # noqa: F401
from ecomctl.cli.commands import transform  # noqa: F401
from ecomctl.cli.commands import views  # noqa: F401
from ecomctl.cli.commands import dashboards  # noqa: F401
from ecomctl.cli.commands import run_all  # noqa: F401
from ecomctl.cli.commands import status  # noqa: F401
from ecomctl.cli.commands import query  # noqa: F401


def main() -> None:
    # One name however it is started (`ecomctl`, `python -m ecomctl`): usage lines and completion use it.
    app(prog_name="ecomctl")
