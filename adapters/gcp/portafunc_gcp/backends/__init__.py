"""What sits behind URL schemes and entry points: Pub/Sub messaging, Cloud Storage and Firestore data, the
idempotency store. Each loads its Google SDK on first use."""
