"""``python -m skelgnn`` (also what ``torchrun -m skelgnn`` runs)."""
import sys

from skelgnn.cli import main

sys.exit(main())
