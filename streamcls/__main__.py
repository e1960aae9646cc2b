"""``python -m streamcls`` is the ``streamcls`` command."""

from streamcls.cli import main

raise SystemExit(main())
