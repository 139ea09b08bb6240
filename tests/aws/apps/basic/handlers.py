"""Lambda handlers exercising the runtime: results, errors, timeouts, garbage, calls back."""

import os
import sys
import time

import boto3

glue = boto3.client("glue")  # at module top, as the seeds do: reaches AWS_ENDPOINT_URL


def echo(event, context):
    return {
        "event": event,
        "function_name": context.function_name,
        "request_id": context.aws_request_id,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "stage": os.environ.get("STAGE"),
        "region": os.environ["AWS_REGION"],
    }


def fail(event, context):
    raise ValueError(f"bad input {event.get('x')}")


def hang(event, context):
    time.sleep(60)


def noisy(event, context):
    sys.stdout.write("\x00\xff garbage {not json\n" * 100)
    print("the end")
    return {"ok": True}


def unserialisable(event, context):
    return {"when": object()}


def crawlers(event, context):
    return sorted(glue.list_crawlers()["CrawlerNames"])


def die(event, context):
    os._exit(3)


def mark(event, context):
    with open(event["detail"]["path"], "w") as out:
        out.write(event["detail-type"])
    return {"marked": event["detail"]["path"]}
