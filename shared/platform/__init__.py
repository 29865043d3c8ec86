"""What every service runs on: settings, event store, relay, consumer base, broker,
logging, metrics."""
