"""Render the store into site pages and charts, and drive MkDocs."""
