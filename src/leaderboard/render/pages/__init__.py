"""The site's data pages, one module per page kind; each reads the store only through render/queries.py."""
