"""``python -m dualaction_lib.workbook --plan …``: the runner alone (see ``workbook.cli``)."""

import sys

from dualaction_lib.workbook.cli import main

sys.exit(main())
