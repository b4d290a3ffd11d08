"""The `cwdsl` command line: one module per command, each owning its options and handler.

Over 1,500 lines because it holds twelve commands, each self-contained as sqlite-utils keeps
its commands (options, the checks that refuse options that would do nothing, the handler):
splitting them further would scatter a command over several places."""
