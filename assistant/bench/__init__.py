"""Benchmarks behind `parley bench`: they report numbers, they never fail on timing."""
