import assert from "node:assert/strict";
import { test } from "node:test";

import { executionName, executionUrl, parseConfig } from "../src/lib/config.js";

const deployed = {
  region: "eu-west-1",
  identityPoolId: "eu-west-1:1111",
  uploadBucket: "imagelabeler-uploads-abc",
  uploadPrefix: "uploads/",
  resultsTable: "ImageLabeler-Results",
  labelsTable: "ImageLabeler-Labels",
  maxUploadBytes: 15728640,
  table: { partitionKey: "Owner", sortKey: "ImageName", byTimeIndex: "OwnerByTime" },
  labelIndex: {
    partitionKey: "Partition",
    sortKey: "Sort",
    entriesInfix: "#label#",
    countsSuffix: "#counts",
    countAttribute: "Images",
  },
};
const arn = "arn:aws:states:eu-west-1:123456789012:execution:Pipeline:5f0c-11";

test("the deployed config.json (CDK) parses; endpoint and local are optional", () => {
  assert.deepEqual(parseConfig(deployed), { ...deployed, endpoint: undefined, local: false });
});

test("the local config.json (labeler local) parses", () => {
  const local = { ...deployed, endpoint: "http://127.0.0.1:4566", local: true };
  delete local.uploadPrefix;
  assert.deepEqual(parseConfig(local), { ...local, uploadPrefix: "uploads/" });
});

test("a config.json without a required key is an error that names it", () => {
  assert.throws(() => parseConfig({ ...deployed, identityPoolId: "" }), /config.json lacks identityPoolId/);
  assert.throws(
    () => parseConfig(null),
    new RegExp(
      "region, identityPoolId, uploadBucket, resultsTable, labelsTable, maxUploadBytes, table.partitionKey, " +
        "table.sortKey, table.byTimeIndex, labelIndex.partitionKey, labelIndex.sortKey, labelIndex.entriesInfix, " +
        "labelIndex.countsSuffix, labelIndex.countAttribute$",
    ),
  );
  assert.throws(() => parseConfig({ ...deployed, maxUploadBytes: "15 MB" }), /lacks maxUploadBytes$/);
  assert.throws(
    () => parseConfig({ ...deployed, table: { ...deployed.table, byTimeIndex: "" } }),
    /lacks table.byTimeIndex$/,
  );
  assert.throws(() => parseConfig({ ...deployed, labelsTable: undefined }), /lacks labelsTable$/);
  assert.throws(
    () => parseConfig({ ...deployed, labelIndex: { ...deployed.labelIndex, entriesInfix: "" } }),
    /lacks labelIndex.entriesInfix$/,
  );
});

test("executions open in the local view, or in the Step Functions console on AWS", () => {
  assert.equal(executionName(arn), "5f0c-11");
  assert.equal(executionUrl(parseConfig({ ...deployed, local: true }), arn), "executions.html#5f0c-11");
  assert.equal(
    executionUrl(parseConfig(deployed), arn),
    "https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/" +
      encodeURIComponent(arn),
  );
});
