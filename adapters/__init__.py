"""Implementations of the application's ports with real libraries."""
