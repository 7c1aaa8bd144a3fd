"""The runbooks' steps (rollback, switches, failover check, database restore, announcements), each a plain function."""
