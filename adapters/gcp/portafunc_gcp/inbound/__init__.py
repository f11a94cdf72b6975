"""Verification of deliveries that reach the app over plain HTTP (Pub/Sub push, Eventarc, Cloud Scheduler OIDC)."""
