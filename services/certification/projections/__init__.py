"""Read models the certification service keeps from the bus."""
