import os

import boto3

glue = boto3.client("glue")


def handle(event, context):
    crawler = glue.get_crawler(Name=os.environ["CRAWLER_NAME"])["Crawler"]
    status = crawler.get("LastCrawl", {"Status": None})["Status"]
    return {**event, "State": crawler["State"], "Status": status}
