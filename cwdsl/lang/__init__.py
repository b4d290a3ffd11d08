"""The schedule language: grammar, parser, AST, printer and semantic checker (text → checked
AST).

Over 1,500 lines because the language is one piece: its AST (every construct's node and
meaning), a parser that reduces straight into it in one linear pass with errors that point
and suggest (``lalr``, ``hints``), a printer that round-trips it, and a checker that reports
every error of a file at once; each module has one of these jobs and none is over 400
lines."""
