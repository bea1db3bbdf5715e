"""Settings of the test suite (pyproject's DJANGO_SETTINGS_MODULE): the portal's settings
with a fast password hasher, independent of the caller's environment.

In the pytest process every variable documented in .env.example (or no longer read) is
emptied (empty means "the default", and a `.env` file cannot fill it back) except those that
say where the database and Redis are, and DEBUG is on. Processes the tests start inherit
that environment, plus the values they are given (IOPORTAL_TEST_ENVIRONMENT marks it as
already pinned).
"""

import os
import re
from pathlib import Path

from ioportal.environment import NO_LONGER_READ

KEPT_VARIABLES = frozenset({"DATABASE_URL", "REDIS_URL", "IO_SPEC_DIR"})

if os.environ.get("IOPORTAL_TEST_ENVIRONMENT") != "pinned":
    _example = (Path(__file__).resolve().parent.parent / ".env.example").read_text()
    _names = re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", _example, flags=re.MULTILINE)
    for _name in [*_names, *NO_LONGER_READ]:
        if _name not in KEPT_VARIABLES:
            os.environ[_name] = ""
    os.environ["DEBUG"] = "true"
    os.environ["IOPORTAL_TEST_ENVIRONMENT"] = "pinned"

from ioportal.settings import *  # noqa: E402, F403

# MD5 makes setting and checking a password instant; the real hasher (PBKDF2, a million
# iterations in Django 5.2) costs a large fraction of a second each time, and the suite
# creates thousands of users and signs many of them in.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
