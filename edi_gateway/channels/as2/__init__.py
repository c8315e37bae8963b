"""AS2 (RFC 4130) protocol core: S/MIME layers, MDNs, receiving and sending, with no transport."""
