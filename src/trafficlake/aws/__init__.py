"""Speaking AWS: one local endpoint for the AWS APIs the seeds' code calls.

Layout (one owner per concern):
- ``service.py``: the contract every service adapter implements (:class:`AwsContext`,
  :data:`Operation`, :class:`ServiceAdapter`) and :class:`AwsError`, the AWS-shaped error.
- ``server.py``: the HTTP protocol (JSON 1.1 by ``X-Amz-Target``, the Lambda REST API), error
  replies, the auth token, the bounds. No service logic.
- ``endpoint.py``: the registry of service adapters, routing by target prefix or service name,
  in-process calls (state machine tasks, event targets).
- one module per service (``glue.py`` with ``glue_crawlers.py``/``glue_jobs.py``, ``states.py``, ``events.py``, ``lambda_.py``,
  ``athena.py``, ``firehose.py``): a thin adapter, each operation calling one library function of
  the stage that owns the behaviour (catalog, crawler, transform, workflow, query, delivery).
"""
