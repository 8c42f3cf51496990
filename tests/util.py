"""Shared test utilities."""
