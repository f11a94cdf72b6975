"""What sits behind URL schemes and entry points: Storage Queue and Event Grid messaging, Blob and Table data, the
idempotency store, and the retry/table helpers they share. Each loads its Azure SDK on first use."""
