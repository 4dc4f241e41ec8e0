"""Composition root of the 掌上办 back-end: settings, database, GraphQL assembly, HTTP app, CLI."""
