import sys

from uise_portal.app import main

sys.exit(main())
