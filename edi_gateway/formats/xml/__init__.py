"""XML: UBL, Peppol and EN 16931, CII."""
