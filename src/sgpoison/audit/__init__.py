"""sgpoison.audit."""
