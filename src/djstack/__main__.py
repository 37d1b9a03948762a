"""`python -m djstack`: the same as the `djstack` command."""

from djstack.cli import main

main()
