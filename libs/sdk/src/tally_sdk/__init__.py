"""Tally's producer SDK: validate usage with the contract models, batch it, publish it."""
