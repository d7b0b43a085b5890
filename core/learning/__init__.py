"""Results & Learning: match results to plans, read them out, reallocate, retrain, and check trust."""
