import sys

from ops.host.steps import main

sys.exit(main())
