// The runtime interface of the emulator's Node.js Lambda environments (one process each).
//
// Started by constructs_lib.testing.lambda_runtime as
// `node node_runtime.js RESULT_FD`, with the function's environment and
// NODE_PATH holding its layers and the AWS SDK for JavaScript v3 (which Lambda's Node.js
// runtime provides). Like Lambda's runtime it loads the handler once, then runs one
// invocation per JSON line on stdin, answering on RESULT_FD; what the handler logs is the
// function's log, ended after each invocation by a record separator line.
//
// One difference from AWS is bridged here: a custom resource's ResponseURL is an https
// pre-signed S3 URL in AWS; the emulator answers on plain http at its own port. An https
// request to the emulator's host without a port (as the CDK provider framework sends its
// response) goes to the emulator over http.
"use strict";
const fs = require("fs");
const http = require("http");
const https = require("https");
const path = require("path");
const readline = require("readline");
const Module = require("module");

const END_OF_LOG = "\x1e";
const results = fs.createWriteStream(null, { fd: Number(process.argv[2]) });
const emulator = new URL(process.env.AWS_ENDPOINT_URL);

const httpsRequest = https.request;
https.request = function request(options, ...rest) {
  if (typeof options === "object" && !(options instanceof URL)
      && [emulator.hostname, "localhost"].includes(options.hostname) && !options.port) {
    return http.request({ ...options, port: emulator.port }, ...rest);
  }
  return httpsRequest.call(this, options, ...rest);
};

const resolve = Module._resolveFilename;
Module._resolveFilename = function resolveFilename(request, ...rest) {
  try {
    return resolve.call(this, request, ...rest);
  } catch (error) {
    if (request.startsWith("@aws-sdk/")) {
      error.message = `${request} is part of the AWS SDK for JavaScript v3, which Lambda's `
        + "Node.js runtime provides; install it where the emulator finds it (npm install "
        + `${request} in your app folder, beside the CDK CLI): ${error.message}`;
    }
    throw error;
  }
};

function errorOf(error, type) {
  return {
    errorType: type || (error && error.name) || "Error",
    errorMessage: error && error.message !== undefined ? error.message : String(error),
    trace: error && error.stack ? String(error.stack).split("\n") : [],
  };
}

async function load() {
  const handler = process.env._HANDLER;
  const dot = handler.lastIndexOf(".");
  const moduleName = handler.slice(0, dot);
  const name = handler.slice(dot + 1);
  const root = process.env.LAMBDA_TASK_ROOT;
  let module;
  try {
    const base = path.join(root, moduleName);
    if (fs.existsSync(`${base}.mjs`)) {
      module = await import(`${base}.mjs`);
    } else {
      module = require(base);
    }
  } catch (error) {
    console.error(`Runtime.ImportModuleError: ${error.message}`);
    return [null, errorOf(error, "Runtime.ImportModuleError")];
  }
  const fn = module[name];
  if (typeof fn !== "function") {
    const error = new Error(`${moduleName}.${name} is undefined or not exported`);
    return [null, errorOf(error, "Runtime.HandlerNotFound")];
  }
  return [fn, null];
}

function context(request) {
  return {
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION || "$LATEST",
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    invokedFunctionArn: request.function_arn,
    awsRequestId: request.id,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    getRemainingTimeInMillis: () => Math.max(0, request.deadline_ms - Date.now()),
    callbackWaitsForEmptyEventLoop: true,
  };
}

function run(fn, event, ctx) {
  return new Promise((resolvePromise, reject) => {
    const callback = (error, value) => (error ? reject(error) : resolvePromise(value));
    try {
      const returned = fn(event, ctx, callback);
      if (returned && typeof returned.then === "function") {
        returned.then(resolvePromise, reject);
      }
    } catch (error) {
      reject(error);
    }
  });
}

async function main() {
  const [fn, initError] = await load();
  results.write(`${JSON.stringify({ init_error: initError })}\n`);
  const lines = readline.createInterface({ input: process.stdin });
  for await (const line of lines) {
    const request = JSON.parse(line);
    let answer;
    if (initError) {
      answer = { error: initError };
    } else {
      try {
        const payload = await run(fn, request.event, context(request));
        answer = { payload: JSON.stringify(payload === undefined ? null : payload) };
      } catch (error) {
        console.error("ERROR", error);
        answer = { error: errorOf(error) };
      }
    }
    process.stdout.write(`${END_OF_LOG}${request.id}\n`);
    results.write(`${JSON.stringify(answer)}\n`);
  }
}

main();
