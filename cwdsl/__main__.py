"""``python -m cwdsl``: the ``cwdsl`` command line."""
import sys

from cwdsl.commands.main import main

sys.exit(main())
