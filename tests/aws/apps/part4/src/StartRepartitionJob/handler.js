// Part-4 shaped handler (our own): a crawl that succeeded starts the repartition Glue job.
// Written against the AWS SDK for JavaScript v2, as many existing Lambda functions still are.
const AWS = require("aws-sdk");

const glue = new AWS.Glue();

module.exports.handle = async (event) => {
  const run = await glue.startJobRun({ JobName: process.env.JOB_NAME }).promise();
  return { crawler: event.detail.crawlerName, jobRunId: run.JobRunId };
};
