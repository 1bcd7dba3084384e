"""Readers and writers: long tables, DepMap release files, count tables."""
