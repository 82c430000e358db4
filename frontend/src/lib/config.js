/**
 * The page's settings: `config.json`, written by `labeler local` or by the CDK deployment, never by hand.
 *
 * Schema: region, identityPoolId, uploadBucket, resultsTable (required); uploadPrefix (default
 * "uploads/"); endpoint (one URL for every AWS call, local only); local (true under `labeler local`).
 */

const REQUIRED = ["region", "identityPoolId", "uploadBucket", "resultsTable"];

/** @typedef {{region: string, identityPoolId: string, uploadBucket: string, resultsTable: string,
 *   uploadPrefix: string, endpoint: string | undefined, local: boolean}} Config */

/** @returns {Config} */
export function parseConfig(raw) {
  const missing = REQUIRED.filter((key) => typeof raw?.[key] !== "string" || raw[key] === "");
  if (missing.length > 0) {
    throw new Error(`config.json lacks ${missing.join(", ")}`);
  }
  return {
    region: raw.region,
    identityPoolId: raw.identityPoolId,
    uploadBucket: raw.uploadBucket,
    resultsTable: raw.resultsTable,
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
