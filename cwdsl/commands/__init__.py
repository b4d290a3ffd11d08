"""The `cwdsl` command line: one module per command, each owning its options and handler."""
