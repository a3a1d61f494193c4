"""The domain: every write to the directory's records, logs and audits happens here."""
