"""HTTP: the REST API for partners and back offices, metrics and health."""
