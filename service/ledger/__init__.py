"""Double-entry ledger: accounts, transfers, holds and reconciliation (pure parts)."""
