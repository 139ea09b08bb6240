"""Glue crawler operations (a mixin of :class:`trafficlake.aws.glue.GlueOperations`): Glue's
crawler shapes <-> :class:`~trafficlake.catalog.base.Crawler`, over the crawler library."""

from __future__ import annotations

import contextlib
import time
from typing import Any

from trafficlake.aws.glue_request import field, invert, optional, paged
from trafficlake.aws.service import AwsContext, AwsError
from trafficlake.catalog import crawler as crawls
from trafficlake.catalog import glue as library
from trafficlake.catalog.base import Catalog, Crawler, NoSuchCrawlerError, NoSuchResourceError
from trafficlake.config import Settings
from trafficlake.storage import Lake

UPDATE = {"UPDATE_IN_DATABASE": "update", "LOG": "log"}
DELETE = {"DELETE_FROM_DATABASE": "delete", "DEPRECATE_IN_DATABASE": "deprecate", "LOG": "log"}
RECRAWL = {"CRAWL_EVERYTHING": "everything", "CRAWL_NEW_FOLDERS_ONLY": "new_folders_only"}
CRAWLER_KIND = "glue-crawler"


class CrawlerOperations:
    context: AwsContext
    settings: Settings
    catalog: Catalog
    lake: Lake

    def _crawler_in(
        self, body: dict[str, Any], base: Crawler | None
    ) -> tuple[Crawler, dict[str, Any]]:
        name = field(body, "Name")
        extra: dict[str, Any] = {}
        if base is not None:
            with contextlib.suppress(NoSuchResourceError):
                extra = dict(self.catalog.get_resource(CRAWLER_KIND, name).body)
        c = base or Crawler(name=name, targets=[], database=self.settings.catalog.database)
        for key in ("Role", "Description", "Schedule", "Configuration", "Classifiers"):
            if key in body:
                extra[key] = body[key]
        if "DatabaseName" in body:
            c.database = field(body, "DatabaseName")
        if "TablePrefix" in body:
            c.table_prefix = field(body, "TablePrefix")
        if "Targets" in body:
            targets = field(body, "Targets", dict)
            s3 = targets.get("S3Targets") or []
            others = [k for k, v in targets.items() if k != "S3Targets" and v]
            if others or not isinstance(s3, list) or not s3:
                raise AwsError("InvalidInputException", "trafficlake crawlers take S3Targets only")
            paths = [field(t, "Path") if isinstance(t, dict) else "" for t in s3]
            c.targets = [library.lake_key(self.settings, self.lake, p) for p in paths]
            extra["S3Targets"] = s3
        if "SchemaChangePolicy" in body:
            scp = field(body, "SchemaChangePolicy", dict)
            try:
                c.schema_change_policy = UPDATE[scp.get("UpdateBehavior", "UPDATE_IN_DATABASE")]
                c.delete_behavior = DELETE[scp.get("DeleteBehavior", "DEPRECATE_IN_DATABASE")]
            except KeyError as exc:
                raise AwsError(
                    "InvalidInputException", f"SchemaChangePolicy: unknown behaviour {exc}"
                ) from None
        if "RecrawlPolicy" in body:
            behaviour = field(body, "RecrawlPolicy", dict).get(
                "RecrawlBehavior", "CRAWL_EVERYTHING"
            )
            if behaviour not in RECRAWL:
                raise AwsError(
                    "InvalidInputException", f"RecrawlBehavior {behaviour} is not supported"
                )
            c.recrawl_policy = RECRAWL[behaviour]
        if not c.targets:
            raise AwsError("InvalidInputException", "Targets.S3Targets is required")
        return c, extra

    def _crawler_out(self, c: Crawler) -> dict[str, Any]:
        try:
            extra = self.catalog.get_resource(CRAWLER_KIND, c.name).body
        except NoSuchResourceError:
            extra = {}
        s3 = extra.get("S3Targets") or [
            {"Path": self.lake.uri(t), "Exclusions": []} for t in c.targets
        ]
        out: dict[str, Any] = {
            "Name": c.name,
            "Role": extra.get("Role", "trafficlake"),
            "Targets": {
                "S3Targets": s3,
                "JdbcTargets": [],
                "DynamoDBTargets": [],
                "CatalogTargets": [],
            },
            "DatabaseName": c.database,
            "Classifiers": extra.get("Classifiers", []),
            "RecrawlPolicy": {"RecrawlBehavior": invert(RECRAWL)[c.recrawl_policy]},
            "SchemaChangePolicy": {
                "UpdateBehavior": invert(UPDATE)[c.schema_change_policy],
                "DeleteBehavior": invert(DELETE)[c.delete_behavior],
            },
            "State": c.state,
            "TablePrefix": c.table_prefix,
            "CreationTime": c.created_at,
            "LastUpdated": c.created_at,
            "Version": 1,
        }
        for key in ("Description", "Configuration"):
            if key in extra:
                out[key] = extra[key]
        if "Schedule" in extra:
            out["Schedule"] = {"ScheduleExpression": extra["Schedule"], "State": "SCHEDULED"}
        current = c.last_crawl
        if c.state != "READY" and current is not None and current.started_at:
            out["CrawlElapsedTime"] = int(max(0.0, time.time() - current.started_at) * 1000)
        last = library.last_finished_crawl(self.catalog, c)
        if last is not None:
            out["LastCrawl"] = {
                "Status": last.status,
                "StartTime": last.started_at,
                "LogGroup": "/aws-glue/crawlers",
                "LogStream": c.name,
                "MessagePrefix": last.id,
                **({"ErrorMessage": last.error_message} if last.error_message else {}),
            }
        return out

    def _crawler(self, name: str) -> Crawler:
        return crawls.get_crawler(self.catalog, self.settings, name)

    def CreateCrawler(self, body: dict[str, Any]) -> dict[str, Any]:
        field(body, "Role")
        crawler, extra = self._crawler_in(body, None)
        try:
            self.catalog.get_crawler(crawler.name)
            raise AwsError("AlreadyExistsException", f"{crawler.name} already exists")
        except NoSuchCrawlerError:
            pass
        self.catalog.create_crawler(crawler)
        self.catalog.put_resource(CRAWLER_KIND, crawler.name, extra)
        return {}

    def UpdateCrawler(self, body: dict[str, Any]) -> dict[str, Any]:
        current = self._crawler(field(body, "Name"))
        if current.state != "READY":
            raise AwsError("CrawlerRunningException", f"Crawler {current.name} is running")
        crawler, extra = self._crawler_in(body, current)
        self.catalog.update_crawler(crawler)
        self.catalog.put_resource(CRAWLER_KIND, crawler.name, extra)
        return {}

    def DeleteCrawler(self, body: dict[str, Any]) -> dict[str, Any]:
        name = field(body, "Name")
        if name in crawls.DEFAULT_CRAWLERS:
            raise AwsError(
                "InvalidInputException", f"Crawler {name} is built in and cannot be deleted"
            )
        self.catalog.delete_crawler(name)
        with contextlib.suppress(NoSuchResourceError):
            self.catalog.delete_resource(CRAWLER_KIND, name)
        return {}

    def GetCrawler(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"Crawler": self._crawler_out(self._crawler(field(body, "Name")))}

    def GetCrawlers(self, body: dict[str, Any]) -> dict[str, Any]:
        page, token = paged(self.catalog.list_crawlers(), body, lambda c: c.name)
        out: dict[str, Any] = {"Crawlers": [self._crawler_out(c) for c in page]}
        if token:
            out["NextToken"] = token
        return out

    def ListCrawlers(self, body: dict[str, Any]) -> dict[str, Any]:
        page, token = paged([c.name for c in self.catalog.list_crawlers()], body, str)
        return {"CrawlerNames": page, **({"NextToken": token} if token else {})}

    def StartCrawler(self, body: dict[str, Any]) -> dict[str, Any]:
        name = field(body, "Name")
        crawler = self._crawler(name)
        if crawler.state != "READY":
            raise AwsError(
                "CrawlerRunningException", f"Crawler with name {name} has already started"
            )
        crawls.start_crawler(self.settings, name, wait=False)
        return {}

    def StopCrawler(self, body: dict[str, Any]) -> dict[str, Any]:
        name = field(body, "Name")
        crawler = self._crawler(name)
        if crawler.state == "STOPPING":
            raise AwsError("CrawlerStoppingException", f"Crawler {name} is stopping")
        if crawler.state != "RUNNING":
            raise AwsError("CrawlerNotRunningException", f"Crawler {name} isn't running")
        self.catalog.request_stop(name)
        return {}

    def GetCrawlerMetrics(self, body: dict[str, Any]) -> dict[str, Any]:
        names = optional(body, "CrawlerNameList", list) or [
            c.name for c in self.catalog.list_crawlers()
        ]
        out = []
        for name in names:
            c = self._crawler(str(name))
            metrics = library.describe_runs(self.catalog.list_crawl_runs(c.name, limit=20))
            elapsed = 0.0
            if c.state != "READY" and c.last_crawl is not None and c.last_crawl.started_at:
                elapsed = time.time() - c.last_crawl.started_at
            left = (
                max(0.0, metrics["MedianRuntimeSeconds"] - elapsed) if c.state != "READY" else 0.0
            )
            out.append(
                {
                    "CrawlerName": c.name,
                    "TimeLeftSeconds": left,
                    "StillEstimating": False,
                    **metrics,
                }
            )
        return {"CrawlerMetricsList": out}
