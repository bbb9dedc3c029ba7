"""`python -m staging ...`: see staging.cli."""

from .cli import main

raise SystemExit(main())
