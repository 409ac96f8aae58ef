"""Entities and business errors of the memory agent. Standard library only."""
