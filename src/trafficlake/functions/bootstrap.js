// Runs ONE Lambda invocation of a Node.js handler (started by trafficlake.functions.runtime).
// argv: CODE_DIR FILE FUNCTION; the event comes on stdin; the result (or Lambda's error shape)
// is written as JSON to the file named by TRAFFICLAKE_LAMBDA_RESULT, so console output stays
// in the log. Handlers may be async, return a promise, or take a callback (event, context, cb).
"use strict";
const fs = require("fs");
const path = require("path");

const [codeDir, fileName, functionName] = process.argv.slice(2);
const env = process.env;
const deadline = Number(env.TRAFFICLAKE_LAMBDA_DEADLINE_MS);
let written = false;

function write(payload) {
  if (written) return;
  written = true;
  fs.writeFileSync(env.TRAFFICLAKE_LAMBDA_RESULT, JSON.stringify(payload));
}

function fail(err, type) {
  const e = err instanceof Error ? err : new Error(String(err));
  write({
    error: {
      errorType: type || e.name || "Error",
      errorMessage: e.message,
      requestId: env.TRAFFICLAKE_LAMBDA_REQUEST_ID,
      stackTrace: (e.stack || "").split("\n").slice(1).map((s) => s.trim()),
    },
  });
}

function succeed(result) {
  let text;
  try {
    text = JSON.stringify({ result: result === undefined ? null : result });
  } catch (e) {
    return fail(e, "Runtime.MarshalError");
  }
  written = true;
  fs.writeFileSync(env.TRAFFICLAKE_LAMBDA_RESULT, text);
}

const context = {
  functionName: env.AWS_LAMBDA_FUNCTION_NAME,
  functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION || "$LATEST",
  invokedFunctionArn: env.TRAFFICLAKE_LAMBDA_ARN,
  memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE || "128",
  awsRequestId: env.TRAFFICLAKE_LAMBDA_REQUEST_ID,
  logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME || "",
  logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME || "",
  callbackWaitsForEmptyEventLoop: true,
  getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
};

// The AWS SDK for JavaScript v2 does not read AWS_ENDPOINT_URL (v3 does): when the handler can
// load v2, point its global config at the endpoint before the handler creates its clients.
function configureSdkV2() {
  if (!env.AWS_ENDPOINT_URL) return;
  let resolved;
  try {
    resolved = require.resolve("aws-sdk", {
      paths: [path.dirname(path.resolve(codeDir, fileName)), codeDir],
    });
  } catch (e) {
    return; // not installed
  }
  require(resolved).config.update({ endpoint: env.AWS_ENDPOINT_URL, s3ForcePathStyle: true });
}

async function main() {
  let mod;
  try {
    configureSdkV2();
  } catch (e) {
    return fail(e, "Runtime.ImportModuleError");
  }
  try {
    mod = require(path.resolve(codeDir, fileName));
  } catch (e) {
    return fail(e, "Runtime.ImportModuleError");
  }
  const handler = mod[functionName];
  if (typeof handler !== "function") {
    return fail(new Error(`${fileName}.${functionName} is undefined or not exported`), "Runtime.HandlerNotFound");
  }
  let event;
  try {
    event = JSON.parse(fs.readFileSync(0, "utf8") || "null");
  } catch (e) {
    return fail(e, "Runtime.UnmarshalError");
  }
  try {
    const out = handler(event, context, (err, result) => (err ? fail(err) : succeed(result)));
    if (out && typeof out.then === "function") succeed(await out);
    else if (handler.length < 3) succeed(out);
  } catch (e) {
    fail(e);
  }
}

process.on("unhandledRejection", (e) => fail(e));
process.on("uncaughtException", (e) => fail(e));
main();
