"""``python -m requests_silentauth``: the ``silentauth`` command."""

from ._cli import main

raise SystemExit(main())
