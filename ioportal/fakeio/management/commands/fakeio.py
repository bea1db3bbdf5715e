"""`manage.py fakeio`: run the IO simulator (a thin wrapper over ioportal.fakeio.cli)."""

import argparse
from typing import Any

from django.core.management.base import (
    BaseCommand,
    CommandError,
    CommandParser,
    DjangoHelpFormatter,
)

from ioportal.fakeio import cli
from ioportal.fakeio.config import ConfigError


class _HelpFormatter(DjangoHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Django's option order, with the citizen table in the epilog kept as written."""


class Command(BaseCommand):
    help = cli.DESCRIPTION
    # The simulator needs neither the database nor the system checks.
    requires_system_checks: list[str] = []

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.epilog = cli.EPILOG
        parser.formatter_class = _HelpFormatter
        return parser

    def add_arguments(self, parser: CommandParser) -> None:
        cli.add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            cli.run(options, out=self.stdout)
        except ConfigError as exc:
            raise CommandError(str(exc)) from exc
        except OSError as exc:
            raise CommandError(f"cannot listen: {exc}") from exc
