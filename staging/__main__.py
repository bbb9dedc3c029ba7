"""`python -m staging ...`: see staging.cli. A policy file named with `--policy` is checked
first, before the sandbox's heavy imports (MLflow, pandas), so that a hostile one is refused in
a fraction of a second; the command then uses the policy as read here."""

import sys

from .gate.policy import refuse_early

refusal = refuse_early(sys.argv[1:])
if refusal is not None:
    print(refusal, file=sys.stderr)
    raise SystemExit(2)

from .cli import main  # noqa: E402 - after the policy's check, on purpose

raise SystemExit(main())
