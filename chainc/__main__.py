"""`python -m chainc`: the same as the `chainc` command."""

from chainc.cli import main

if __name__ == "__main__":
    main(prog_name="chainc")
