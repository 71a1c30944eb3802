"""Reading local source files: site configurations and delimited rows (part of the core)."""
