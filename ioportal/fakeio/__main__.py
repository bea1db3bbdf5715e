"""`python -m ioportal.fakeio`: run the IO simulator without Django."""

import sys

from ioportal.fakeio.cli import main

sys.exit(main())
