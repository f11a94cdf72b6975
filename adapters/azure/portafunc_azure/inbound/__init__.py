"""Verification of Event Grid deliveries that reach an app over plain HTTP (outside the Functions trigger)."""
