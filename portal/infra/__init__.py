"""Configuration, the SQLite write queue, logging and mail transport: no domain rules."""
