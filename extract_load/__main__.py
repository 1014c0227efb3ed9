import sys

from extract_load.cli import main

sys.exit(main())
