import argparse
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import (
    BaseCommand,
    CommandError,
    CommandParser,
    DjangoHelpFormatter,
)

from ioportal.ioservices.importer import (
    DOC,
    ImportFormatError,
    detect_format,
    ioservices_import,
    parse_rows,
)


class _HelpFormatter(DjangoHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Django's option order, with the format description kept as written."""


class Command(BaseCommand):
    help = (
        "Importa servizi IO e chiavi API da un file CSV o JSON (per chi configura molti enti). "
        "Tutto o niente: se una riga non è valida non viene salvato nulla."
    )
    # Tests pass a file-like object instead of the process's standard input.
    stealth_options = ("stdin",)

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.epilog = DOC
        parser.formatter_class = _HelpFormatter
        return parser

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help='file CSV o JSON; "-" per lo standard input')
        parser.add_argument(
            "--format",
            choices=["csv", "json"],
            help="formato del file (predefinito: dall'estensione o dal contenuto)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = options["file"]
        if path == "-":
            text = (options.get("stdin") or sys.stdin).read()
        else:
            try:
                text = Path(path).read_text(encoding="utf-8-sig")
            except (OSError, UnicodeDecodeError) as exc:
                raise CommandError(f"Impossibile leggere {path}: {exc}") from None
        try:
            rows = parse_rows(text, detect_format(text, path, options["format"]))
        except ImportFormatError as exc:
            raise CommandError(f"File non valido, nessun servizio importato: {exc}") from None
        if not rows:
            raise CommandError("Il file non contiene servizi.")
        result = ioservices_import(rows=rows, actor="manage.py import_ioservices")
        if result.errors:
            for error in result.errors:
                self.stderr.write(f"  {error}")
            raise CommandError(
                f"{len(result.errors)} errori: nessun servizio importato. "
                "Correggi il file e ripeti il comando."
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Importazione completata: {result.created} servizi creati, "
                f"{result.updated} aggiornati."
            )
        )
