"""Domain: households, pickups, rounds, and the pure SMS language around them."""
