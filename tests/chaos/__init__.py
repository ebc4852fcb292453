"""The fault-injection run behind `make chaos` (not part of `make test`): python -m tests.chaos --help."""
