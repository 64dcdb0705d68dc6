"""sgpoison.fss."""
