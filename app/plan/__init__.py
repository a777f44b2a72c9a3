"""Plans: the declarative actions handlers return, and the one executor that applies them."""
