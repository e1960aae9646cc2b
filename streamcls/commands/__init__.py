"""One module per ``streamcls`` command; ``cli.py`` parses and dispatches to them."""
