"""``python -m experiments.cli ...`` runs the ``alliance`` command."""

import sys

from experiments.cli.main import main

sys.exit(main())
