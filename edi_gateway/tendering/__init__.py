"""Sealed e-tendering: calls for tenders, sealing at intake, signed receipts, deadlines,
withdrawals and the k-of-n opening (see `wiring.Tendering` for how the parts are composed)."""
