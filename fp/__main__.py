"""`python -m fp` runs the command line."""

from fp.cli.main import main

main()
