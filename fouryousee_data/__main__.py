"""``python -m fouryousee_data`` runs the command line."""

from fouryousee_data.cli import main

raise SystemExit(main())
