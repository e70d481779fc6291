"""``python -m embedspec``: the ``embedspec`` command."""

from .cli import main

if __name__ == "__main__":
    main()
