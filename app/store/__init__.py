"""The journal of deliveries and the dashboard's facts, in SQLite (FLYWHEEL_DB)."""
