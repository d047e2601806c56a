"""Financing instruments: one module per instrument (terms, schedule, recourse, booking)."""
