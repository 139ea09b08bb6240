// Part-4 shaped handler (our own): a crawl that succeeded starts the repartition Glue job.
const { GlueClient, StartJobRunCommand } = require("@aws-sdk/client-glue");

const glue = new GlueClient({});

module.exports.handle = async (event) => {
  const run = await glue.send(new StartJobRunCommand({ JobName: "repartition_job" }));
  return { crawler: event.detail.crawlerName, jobRunId: run.JobRunId };
};
