"""Lambda functions run locally: one process per invocation, as Lambda runs a handler.

``[lambda.functions.NAME]`` in the config declares them (handler ``FILE.FUNCTION``, code_dir,
runtime python | nodejs, environment, timeout_s, interpreter); :func:`invoke` runs one.
"""

from trafficlake.functions.runtime import (
    FunctionNotFoundError,
    Invocation,
    RuntimeMissingError,
    function_arn,
    invoke,
    resolve_function,
)

__all__ = [
    "FunctionNotFoundError",
    "Invocation",
    "RuntimeMissingError",
    "function_arn",
    "invoke",
    "resolve_function",
]
