"""`python -m extgen` runs the command line."""

from extgen.cli import main

main()
