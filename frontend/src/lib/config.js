/**
 * The page's settings: `config.json`, written by `labeler local` or by the CDK deployment, never by hand.
 *
 * Schema (`labeler.blueprint.PageConfig` writes it): region, identityPoolId, uploadBucket, resultsTable,
 * labelsTable, maxUploadBytes (the pipeline's size limit), table (the results table's partitionKey,
 * sortKey and byTimeIndex), labelIndex (the label index's partitionKey, sortKey, entriesInfix,
 * countsSuffix and countAttribute) are required; uploadPrefix (default "uploads/"); endpoint (one URL
 * for every AWS call, local only); local (true under `labeler local`).
 */

const REQUIRED = ["region", "identityPoolId", "uploadBucket", "resultsTable", "labelsTable"];
const TABLE_KEYS = ["partitionKey", "sortKey", "byTimeIndex"];
const LABEL_INDEX_KEYS = ["partitionKey", "sortKey", "entriesInfix", "countsSuffix", "countAttribute"];

/** @typedef {{partitionKey: string, sortKey: string, byTimeIndex: string}} TableKeys */
/** @typedef {import("./search.js").LabelIndexKeys} LabelIndexKeys */
/** @typedef {{region: string, identityPoolId: string, uploadBucket: string, resultsTable: string,
 *   labelsTable: string, maxUploadBytes: number, table: TableKeys, labelIndex: LabelIndexKeys,
 *   uploadPrefix: string, endpoint: string | undefined, local: boolean}} Config */

const isName = (value) => typeof value === "string" && value !== "";

/** @returns {Config} */
export function parseConfig(raw) {
  const missing = REQUIRED.filter((key) => !isName(raw?.[key]));
  if (!(Number.isSafeInteger(raw?.maxUploadBytes) && raw.maxUploadBytes > 0)) {
    missing.push("maxUploadBytes");
  }
  missing.push(...TABLE_KEYS.filter((key) => !isName(raw?.table?.[key])).map((key) => `table.${key}`));
  missing.push(
    ...LABEL_INDEX_KEYS.filter((key) => !isName(raw?.labelIndex?.[key])).map((key) => `labelIndex.${key}`),
  );
  if (missing.length > 0) {
    throw new Error(`config.json lacks ${missing.join(", ")}`);
  }
  return {
    region: raw.region,
    identityPoolId: raw.identityPoolId,
    uploadBucket: raw.uploadBucket,
    resultsTable: raw.resultsTable,
    labelsTable: raw.labelsTable,
    maxUploadBytes: raw.maxUploadBytes,
    table: { partitionKey: raw.table.partitionKey, sortKey: raw.table.sortKey, byTimeIndex: raw.table.byTimeIndex },
    labelIndex: Object.fromEntries(LABEL_INDEX_KEYS.map((key) => [key, raw.labelIndex[key]])),
    uploadPrefix: typeof raw.uploadPrefix === "string" ? raw.uploadPrefix : "uploads/",
    endpoint: typeof raw.endpoint === "string" && raw.endpoint !== "" ? raw.endpoint : undefined,
    local: raw.local === true,
  };
}

/** @returns {Promise<Config>} */
export async function loadConfig() {
  const response = await fetch("config.json", { cache: "no-store" });
  if (!response.ok) {
    throw new Error(`config.json: HTTP ${response.status}`);
  }
  return parseConfig(await response.json());
}

/** The last part of an execution ARN (`arn:aws:states:…:execution:<machine>:<name>`). */
export function executionName(executionArn) {
  return executionArn.slice(executionArn.lastIndexOf(":") + 1);
}

/**
 * Where to inspect one execution: the local executions view, or the Step Functions console on AWS.
 * @param {Config} config
 */
export function executionUrl(config, executionArn) {
  if (config.local) {
    return `executions.html#${encodeURIComponent(executionName(executionArn))}`;
  }
  const region = encodeURIComponent(config.region);
  return (
    `https://${region}.console.aws.amazon.com/states/home?region=${region}` +
    `#/v2/executions/details/${encodeURIComponent(executionArn)}`
  );
}
