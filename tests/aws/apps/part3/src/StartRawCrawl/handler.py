import os

import boto3

glue = boto3.client("glue")


def handle(event, context):
    glue.start_crawler(Name=os.environ["CRAWLER_NAME"])
    return event
