"""`yrkesresan contract`: regenerate the contract documents and check them against the models."""

from __future__ import annotations

from pathlib import Path

import typer

from shared.events import compat, schema

contract_app = typer.Typer(
    no_args_is_help=True,
    help="The public event contract: JSON Schemas and AsyncAPI under docs/contract/.",
)

_DIR = typer.Option(schema.DEFAULT_DIR, "--dir", help="Where the contract documents live.")


@contract_app.command("export")
def export(target: Path = _DIR) -> None:
    """Write the JSON Schemas and the AsyncAPI document generated from the models."""
    for path in schema.write_all(target):
        typer.echo(str(path))


@contract_app.command("check")
def check(target: Path = _DIR) -> None:
    """Fail when the checked-in documents drift from the models or v1 would break."""
    problems = [f"drift: {p}" for p in schema.check_all(target)]
    try:
        baseline = schema.load_baseline(target)
    except FileNotFoundError:
        problems.append(f"missing baseline: {Path(target) / schema.BASELINE_FILE}")
    else:
        current = schema.contract_snapshot()
        problems += [f"breaking: {p}" for p in compat.breaking_changes(baseline, current)]
    if problems:
        for problem in problems:
            typer.echo(problem, err=True)
        typer.echo(f"{len(problems)} contract problem(s)", err=True)
        raise typer.Exit(1)
    typer.echo("contract v1: documents up to date, no breaking changes")


def register(app: typer.Typer) -> None:
    app.add_typer(contract_app, name="contract")
