"""Settings of the test suite (pyproject's DJANGO_SETTINGS_MODULE): the portal's settings
with a fast password hasher, independent of the caller's environment.

In the pytest process every variable documented in .env.example is emptied (empty means
"the default", and a `.env` file cannot fill it back) except those that say where the
database and Redis are, and DEBUG is on. Processes the tests start inherit that environment,
plus the values they are given (IOPORTAL_TEST_ENVIRONMENT marks it as already pinned).
"""

import os
import re
from pathlib import Path

KEPT_VARIABLES = frozenset({"DATABASE_URL", "REDIS_URL", "IO_SPEC_DIR"})

if os.environ.get("IOPORTAL_TEST_ENVIRONMENT") != "pinned":
    _example = (Path(__file__).resolve().parent.parent / ".env.example").read_text()
    for _name in re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", _example, flags=re.MULTILINE):
        if _name not in KEPT_VARIABLES:
            os.environ[_name] = ""
    os.environ["DEBUG"] = "true"
    os.environ["IOPORTAL_TEST_ENVIRONMENT"] = "pinned"

from ioportal.settings import *  # noqa: E402, F403

# MD5 makes setting and checking a password instant; the real hasher (PBKDF2, over a million
# iterations) costs a quarter of a second each time, and the suite creates thousands of users.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
