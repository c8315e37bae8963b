"""Formats: tokenizing, validating, translating and acknowledging each standard."""
