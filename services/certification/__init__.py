"""Certification: completions, certificates and evaluations, derived from the facts of
enrolment and scheduling; hosts the progression read model (who completed what, when)."""
