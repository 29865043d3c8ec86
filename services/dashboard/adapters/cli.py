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
    from yrkesresan import stores

    application.run_worker(ops_port, group_id, history=stores.history)


@dashboard.command("web")
def web_command(
    port: Annotated[int | None, typer.Option(help="default 8010")] = None,
) -> None:
    """Run the web application: the overview, Stationen and Plattformen."""
    from services.dashboard import application

    application.serve_web(port)


def register(app: typer.Typer) -> None:
    app.add_typer(dashboard, name="dashboard")
