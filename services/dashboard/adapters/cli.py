"""`yrkesresan dashboard ...`: the national dashboard's processes."""

from __future__ import annotations

from typing import Annotated

import typer

dashboard = typer.Typer(no_args_is_help=True, help="The national dashboard (figures, web pages).")


@dashboard.command("worker")
def worker_command(
    ops_port: Annotated[int | None, typer.Option(help="/health and /metrics (default 8204)")]
    = None,
    group_id: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Run the stream processor (faust): the bus → the figures in the dashboard's database."""
    from services.dashboard import application

    application.run_worker(ops_port, group_id)


def register(app: typer.Typer) -> None:
    app.add_typer(dashboard, name="dashboard")
