"""Model core and mechanisms: scenario schema, finance engine, ledger, model."""
