import sys

from uise_intake.entrypoint import main

sys.exit(main())
