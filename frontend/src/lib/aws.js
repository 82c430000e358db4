/**
 * The page's AWS calls, with Cognito guest credentials: presign an upload under the guest's own prefix,
 * read the guest's own results (GetItem by key; Query on the OwnerByTime index, newest first, without
 * DELETED tombstones), delete one of its own uploads (the backend's cleanup then removes the rest), and
 * read its own partitions of the label index (its label counts; a label's entries, newest first).
 */

import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DeleteObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { fromCognitoIdentityPool } from "@aws-sdk/credential-provider-cognito-identity";
import { DynamoDBDocumentClient, GetCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";

import { shareCredentials } from "./credentials.js";
import { collectPage } from "./deletion.js";
import { countsPartition, entriesPartition, foundRecords, labelCounts } from "./search.js";

const STATUS = "Status";
/** The pipeline URL-decodes this S3 metadata into the record's OriginalName. */
const ORIGINAL_NAME_HEADER = "x-amz-meta-original-name";
const UPLOAD_URL_TTL_S = 300;
/** A label entry's attributes (`labeler.aws.label_index`): the results record's sort key, the percent. */
const ENTRY_IMAGE = "ImageName";
const ENTRY_CONFIDENCE = "Confidence";

/** @param {import("./config.js").Config} config */
export function connect(config) {
  const { partitionKey, sortKey, byTimeIndex } = config.table;
  const index = config.labelIndex;
  const clientConfig = { region: config.region, ...(config.endpoint ? { endpoint: config.endpoint } : {}) };
  const credentials = shareCredentials(
    fromCognitoIdentityPool({ identityPoolId: config.identityPoolId, clientConfig }),
  );
  const s3 = new S3Client({
    ...clientConfig,
    credentials,
    // moto on one port has no bucket subdomains; on AWS, virtual-hosted URLs match the site's CSP.
    forcePathStyle: Boolean(config.endpoint),
    // The default CRC32 checksum cannot be computed over a browser File (aws-sdk-js-v3#6834).
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
  const dynamo = DynamoDBDocumentClient.from(
    // Account-based endpoints (<account>.ddb.<region>…) are not in the site's CSP.
    new DynamoDBClient({ ...clientConfig, credentials, accountIdEndpointMode: "disabled" }),
  );

  /** The results record of one upload, or undefined until the pipeline writes one. */
  async function record(owner, key) {
    const { Item } = await dynamo.send(
      new GetCommand({
        TableName: config.resultsTable,
        Key: { [partitionKey]: owner, [sortKey]: key },
        ConsistentRead: true,
      }),
    );
    return Item;
  }

  return {
    record,

    /** The guest's identity id: the owner of its uploads and records (kept in IndexedDB by the SDK). */
    async identityId() {
      return (await credentials()).identityId;
    },

    /** A URL to PUT the file to, and the headers that must go with it (they are signed). */
    async presignUpload({ key, contentType, originalName }) {
      const command = new PutObjectCommand({
        Bucket: config.uploadBucket,
        Key: key,
        ContentType: contentType,
        Metadata: { "original-name": encodeURIComponent(originalName) },
      });
      const url = await getSignedUrl(s3, command, {
        expiresIn: UPLOAD_URL_TTL_S,
        unhoistableHeaders: new Set([ORIGINAL_NAME_HEADER]),
      });
      return {
        url,
        headers: { "Content-Type": contentType, [ORIGINAL_NAME_HEADER]: encodeURIComponent(originalName) },
      };
    },

    /** Delete one of the guest's uploads (its IAM policy allows DeleteObject under its own prefix only). */
    async deleteUpload(key) {
      await s3.send(new DeleteObjectCommand({ Bucket: config.uploadBucket, Key: key }));
    },

    /**
     * The owner's records, newest first, from `cursor` on, never the DELETED tombstones; `cursor` in the
     * answer continues the list.
     */
    async myUploads(owner, { limit = 50, cursor = undefined } = {}) {
      return collectPage(
        async (request) => {
          const { Items = [], LastEvaluatedKey } = await dynamo.send(
            new QueryCommand({
              TableName: config.resultsTable,
              IndexName: byTimeIndex,
              KeyConditionExpression: "#owner = :owner",
              FilterExpression: "attribute_not_exists(#status) OR #status <> :deleted",
              ExpressionAttributeNames: { "#owner": partitionKey, "#status": STATUS },
              ExpressionAttributeValues: { ":owner": owner, ":deleted": "DELETED" },
              ScanIndexForward: false,
              Limit: request.limit,
              ExclusiveStartKey: request.cursor,
            }),
          );
          return { records: Items, cursor: LastEvaluatedKey };
        },
        { limit, cursor },
      );
    },

    /** The owner's labels with how many images each finds (every page of its counts), most first. */
    async labelCounts(owner) {
      const items = [];
      let start;
      do {
        const { Items = [], LastEvaluatedKey } = await dynamo.send(
          new QueryCommand({
            TableName: config.labelsTable,
            KeyConditionExpression: "#partition = :partition",
            ExpressionAttributeNames: { "#partition": index.partitionKey },
            ExpressionAttributeValues: { ":partition": countsPartition(index, owner) },
            ExclusiveStartKey: start,
          }),
        );
        items.push(...Items);
        start = LastEvaluatedKey;
      } while (start !== undefined);
      return labelCounts(items, index);
    },

    /**
     * The owner's records that a label (its key) finds at `minConfidence` percent or more, newest upload
     * first, from `cursor` on: the label's entries, then each one's record (GetItem), without those gone
     * since. `cursor` in the answer continues the list.
     */
    async labelImages(owner, key, { minConfidence = 0, limit = 24, cursor = undefined } = {}) {
      return collectPage(
        async (request) => {
          const { Items = [], LastEvaluatedKey } = await dynamo.send(
            new QueryCommand({
              TableName: config.labelsTable,
              KeyConditionExpression: "#partition = :partition",
              FilterExpression: "#confidence >= :min",
              ExpressionAttributeNames: { "#partition": index.partitionKey, "#confidence": ENTRY_CONFIDENCE },
              ExpressionAttributeValues: {
                ":partition": entriesPartition(index, owner, key),
                ":min": minConfidence,
              },
              ScanIndexForward: false,
              Limit: request.limit,
              ExclusiveStartKey: request.cursor,
            }),
          );
          const records = await Promise.all(Items.map((entry) => record(owner, entry[ENTRY_IMAGE])));
          return { records: foundRecords(records), cursor: LastEvaluatedKey };
        },
        { limit, cursor },
      );
    },
  };
}

/**
 * PUT a file with upload progress (fetch cannot report it). Resolves on 2xx.
 * @param {(fraction: number) => void} onProgress
 */
export function putFile(url, file, headers, onProgress) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("PUT", url);
    for (const [name, value] of Object.entries(headers)) {
      request.setRequestHeader(name, value);
    }
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) {
        onProgress(event.loaded / event.total);
      }
    });
    request.addEventListener("load", () =>
      request.status >= 200 && request.status < 300
        ? resolve()
        : reject(new Error(`The upload was refused (HTTP ${request.status}).`)),
    );
    request.addEventListener("error", () => reject(new Error("The upload failed: network error.")));
    request.send(file);
  });
}
