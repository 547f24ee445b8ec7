"""The fault ledger: what a run injected into a target, written down before it is injected and
marked undone after its rollback, so that ``chaosgate cleanup`` can undo what a cancelled or
killed run left behind."""
