"""Canonical JSON: the gateway's own model submitted directly by API-first partners."""
