export {
  type BlobEntry,
  type BlobInfo,
  type BlobStore,
  type Digest,
  digestOf,
  isDigest,
  type PutOptions,
  type PutResult,
  parseDigest,
  putJson,
  readJson,
  type SweepReport,
} from "./blob-store.js";
export { createFsBlobStore } from "./fs-blob-store.js";
export { createMemoryBlobStore } from "./memory-blob-store.js";
