"""Every IO call goes through the account's gateway: no module outside `sending.gateway`
(and the `ioapi` package itself) may import the IO client or its connection pool."""

import ast
from pathlib import Path

import ioportal

ROOT = Path(ioportal.__file__).resolve().parent
ALLOWED = {ROOT / "sending" / "gateway.py"}
CLIENT_NAMES = {"IOClient", "ConnectionPool"}


def client_imports(path: Path) -> list[str]:
    """The imports of the IO client in one source file, as "line: statement"."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = {alias.name for alias in node.names}
            if node.module.startswith("ioportal.ioapi") and (
                names & CLIENT_NAMES or node.module == "ioportal.ioapi.client"
            ):
                found.append(f"{node.lineno}: from {node.module} import {sorted(names)}")
            if node.module == "ioportal.ioapi" and "client" in names:
                found.append(f"{node.lineno}: from ioportal.ioapi import client")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("ioportal.ioapi"):
                    found.append(f"{node.lineno}: import {alias.name}")
    return found


def test_only_the_gateway_imports_the_io_client():
    offenders = {}
    for path in ROOT.rglob("*.py"):
        if path in ALLOWED or (ROOT / "ioapi") in path.parents:
            continue
        if found := client_imports(path):
            offenders[str(path.relative_to(ROOT))] = found
    assert offenders == {}


def test_the_check_sees_an_import_of_the_client(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from ioportal.ioapi import IOClient\n"
        "from ioportal.ioapi.client import parse_retry_after\n"
        "import ioportal.ioapi.client\n"
        "from ioportal.ioapi import NewMessage\n"
    )
    assert [line.split(":")[0] for line in client_imports(sample)] == ["1", "2", "3"]
