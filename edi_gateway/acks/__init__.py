"""Acknowledgements: the outbox and its delivery through each partner's return route."""
