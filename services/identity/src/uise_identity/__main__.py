import sys

from uise_identity.cli import main

sys.exit(main())
