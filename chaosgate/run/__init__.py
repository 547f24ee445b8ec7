"""`chaosgate run`: load and the chaos timeline together, then the assertions and the verdict."""
