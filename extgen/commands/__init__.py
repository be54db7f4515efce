"""extgen's commands, one module each; `extgen.cli` gathers them into the group.

Each command reads what it needs through the modules below it, says everything through
its `Reporter` (`common.reporter`) and leaves the exit code to the group: an `ExtgenError`
is exit 1, a `click.exceptions.Exit` the code it carries.
"""
