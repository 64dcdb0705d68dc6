import sys

from sgpoison.cli import main

sys.exit(main())
