import datetime
import os

import boto3

athena = boto3.client("athena")
QUERY = os.environ["QUERY"]
DB = os.environ["DB"]


def handle(event, context):
    day = datetime.date(int(event["year"]), int(event["month"]), int(event["day"]))
    query = QUERY.format(year=day.year, month=day.month, day=day.day)
    started = athena.start_query_execution(
        QueryString=query,
        QueryExecutionContext={"Database": DB, "Catalog": "AwsDataCatalog"},
        ResultConfiguration={"OutputLocation": "s3://athena-results/lane-minutes/"},
    )
    return {"QueryExecutionIds": [started["QueryExecutionId"]]}
