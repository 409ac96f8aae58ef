"""``python -m entrypoints.cli``."""

from entrypoints.cli.main import main

raise SystemExit(main())
