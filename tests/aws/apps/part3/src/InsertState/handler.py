import boto3

athena = boto3.client("athena")


def handle(event, context):
    ids = event["QueryExecutionIds"]
    found = athena.batch_get_query_execution(QueryExecutionIds=ids)["QueryExecutions"]
    states = {q["Status"]["State"] for q in found}
    if "FAILED" in states or "CANCELLED" in states:
        state = "FAILED"
    elif states == {"SUCCEEDED"}:
        state = "SUCCEEDED"
    else:
        state = "RUNNING"
    return {"QueryExecutionIds": ids, "AthenaState": state}
