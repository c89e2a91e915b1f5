"""``python -m prover.cli``: the ``prover`` command, as ``accelerate launch -m prover.cli train ...``
starts it in each process."""

import sys

from prover.cli.main import main

sys.exit(main())
