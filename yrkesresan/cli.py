"""`yrkesresan`: the command line of the whole system."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Yrkesresan backend.")


@app.callback()
def main() -> None:
    """Yrkesresan: services, relays, projections and tools."""


from yrkesresan import contract_cmd  # noqa: E402

contract_cmd.register(app)
