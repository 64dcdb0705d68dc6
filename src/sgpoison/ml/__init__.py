"""sgpoison.ml."""
