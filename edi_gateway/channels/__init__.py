"""Channel adapters: the network edges through which partners deliver and receive documents."""
