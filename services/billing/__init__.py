"""Billing: price lists, year closing, the trainer pot (utbildarpott) and invoice basis."""
