"""The jobs the backup vault exists for: database dumps, upload backups, restore tests and restores."""
