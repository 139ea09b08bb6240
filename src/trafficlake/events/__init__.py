"""EventBridge's work, locally: rules (event patterns and schedules) with targets, kept in the
catalog; events put or emitted by trafficlake itself, delivered once to every matching rule's
targets by whichever process runs a dispatcher (``aws serve``, ``schedule run``)."""
