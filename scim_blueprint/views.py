"""SCIM endpoints."""
