"""The four services, each with the same inner shape: domain, application, adapters, projections."""
