"""The twistd application: tap glue, the service tree, listeners, workers and the reactor."""
