"""``python -m skelgnn.cli`` (the same as ``python -m skelgnn``)."""
import sys

from skelgnn.cli import main

sys.exit(main())
