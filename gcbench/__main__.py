import sys

from gcbench.cli import main

sys.exit(main())
