"""Verification of pushes that reach the service over plain HTTP."""
