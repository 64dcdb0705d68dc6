"""sgpoison.io."""
