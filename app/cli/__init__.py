"""The flywheel command's subcommands."""
