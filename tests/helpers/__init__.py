"""Test helpers and fixture modules; tests/conftest.py registers the fixtures."""
