"""The project's common library: one way to do each thing across every service."""
