// Part-4 shaped handler (our own): an hourly rule starts the raw crawler.
const { GlueClient, StartCrawlerCommand } = require("@aws-sdk/client-glue");

const glue = new GlueClient({});

module.exports.handle = async (event) => {
  await glue.send(new StartCrawlerCommand({ Name: process.env.CRAWLER_NAME }));
  return { started: process.env.CRAWLER_NAME, trigger: event["detail-type"] };
};
