"""Backups that restore: `djstack backup`, `backups` and `restore` (see archive.py for the format)."""
