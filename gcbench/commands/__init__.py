"""One module per CLI subcommand; each is a thin layer over a library call."""
