"""The schedule language: grammar, parser, AST, printer and semantic checker (text → checked
AST)."""
