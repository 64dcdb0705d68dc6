"""sgpoison.report."""
