"""Use cases the CLI and the API call: run, train, evaluate, tune, serve."""
