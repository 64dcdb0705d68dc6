"""sgpoison.mc."""
