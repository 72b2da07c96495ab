import { constants, createWriteStream, type Stats } from "node:fs";
import { type FileHandle, open, realpath, rename, rm } from "node:fs/promises";
import { dirname, isAbsolute, relative, resolve, sep } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { parseJsonText, SkalaError } from "../core/index.js";

/**
 * Local files the CLI reads and writes. Every failure becomes a FILE_* error that names the path and never
 * quotes the file's content; nothing here lets a stack trace reach the user.
 */

/** The error for a failed file-system call on `path`, by its errno code. */
export function fileError(error: unknown, path: string, access: "read" | "write" = "read"): SkalaError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (access === "write") {
    const reason =
      code === "ENOENT" ? "its folder does not exist" : code === "EISDIR" ? "it is a folder" : describe(code);
    return new SkalaError("FILE_UNWRITABLE", `${path}: cannot write: ${reason}`);
  }
  if (code === "ENOENT" || code === "ENOTDIR") {
    return new SkalaError("FILE_NOT_FOUND", `${path}: no such file`);
  }
  return new SkalaError("FILE_UNREADABLE", `${path}: cannot read: ${describe(code)}`);
}

function describe(code: string | undefined): string {
  switch (code) {
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "EISDIR":
      return "it is a folder";
    case "ELOOP":
      return "too many levels of symbolic links";
    case undefined:
      return "unknown error";
    default:
      return code;
  }
}

/** Whether `error` is a Node.js file-system error that names a path (the top-level handler's safety net). */
export function isFileSystemError(error: unknown): error is NodeJS.ErrnoException & { path: string } {
  const e = error as NodeJS.ErrnoException | undefined;
  return e instanceof Error && typeof e.code === "string" && typeof e.path === "string" && !!e.syscall;
}

/** A regular file opened for reading, with its size; anything else (folder, device, FIFO) is refused. */
export interface OpenedFile {
  readonly path: string;
  readonly size: number;
  stream(): Readable;
  close(): Promise<void>;
}

/**
 * Opens a regular file for reading. The checks run on the opened descriptor, so the file that is checked
 * is the file that is read.
 */
export async function openRegularFile(path: string): Promise<OpenedFile> {
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    throw fileError(error, path);
  }
  let info: Stats;
  try {
    info = await handle.stat();
  } catch (error) {
    await handle.close();
    throw fileError(error, path);
  }
  if (!info.isFile()) {
    await handle.close();
    throw new SkalaError(
      "FILE_UNREADABLE",
      `${path}: cannot read: ${info.isDirectory() ? "it is a folder" : "not a regular file"}`,
    );
  }
  return {
    path,
    size: info.size,
    stream: () => handle.createReadStream({ autoClose: true }),
    close: () => handle.close().catch(() => undefined),
  };
}

/** Largest signature file `versions create --signature` reads (1 MiB; a signature names a few tensors). */
export const SIGNATURE_FILE_MAX_BYTES = 1 << 20;

/** The refusal of a file larger than `maxBytes`, before any of it is read. */
export function fileTooLarge(path: string, size: number, maxBytes: number, what: string): SkalaError {
  return new SkalaError(
    "FILE_TOO_LARGE",
    `${path}: ${size} bytes, more than the ${maxBytes} bytes ${what} may have`,
  );
}

/**
 * Reads a regular text file of at most `maxBytes` (specs and signatures are small; a 4 GB one is a mistake):
 * the size of the opened file is checked before a byte is read, so a larger one costs nothing.
 */
export async function readTextFile(path: string, limit: { maxBytes: number; what: string }): Promise<string> {
  const file = await openRegularFile(path);
  try {
    if (file.size > limit.maxBytes) throw fileTooLarge(path, file.size, limit.maxBytes, limit.what);
    const chunks: Buffer[] = [];
    for await (const chunk of file.stream()) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString("utf8");
  } catch (error) {
    throw error instanceof SkalaError ? error : fileError(error, path);
  } finally {
    await file.close();
  }
}

/** Reads a JSON file; a syntax error says where, never what the file holds. */
export async function readJsonFile(path: string, what: string, maxBytes: number): Promise<unknown> {
  const parsed = parseJsonText(await readTextFile(path, { maxBytes, what: `a ${what} file` }));
  if (!parsed.ok) {
    throw new SkalaError("VALIDATION_FAILED", `${what} ${path}: ${parsed.error}`, {
      issues: [{ path, message: parsed.error }],
    });
  }
  return parsed.value;
}

/** Fails with FILE_NOT_FOUND / FILE_UNREADABLE unless `path` is a readable regular file. */
export async function checkReadable(path: string): Promise<void> {
  const file = await openRegularFile(path);
  await file.close();
}

/**
 * Writes a stream to `file` through a temporary name, so a broken transfer leaves no file behind.
 *
 * @example
 * await writeFileAtomically(response.body, "scores.csv");
 */
export async function writeFileAtomically(source: Readable, file: string): Promise<void> {
  const partial = `${file}.part`;
  try {
    await pipeline(source, createWriteStream(partial));
    await rename(partial, file);
  } catch (error) {
    throw isFileSystemError(error) ? fileError(error, file, "write") : error;
  } finally {
    await rm(partial, { force: true });
  }
}

/**
 * Where a fleet spec's dataset really is, refusing anything outside the spec's folder.
 *
 * The spec names its dataset relative to its own folder. A spec handed over by someone else must not make
 * the CLI upload `../../.ssh/id_rsa` to a server, so the path is resolved with every symbolic link followed
 * and must stay inside the (equally resolved) folder, unless `allowOutside` says otherwise.
 */
export async function confinedDatasetPath(
  datasetPath: string,
  specPath: string,
  options: { allowOutside: boolean },
): Promise<string> {
  const specDir = dirname(resolve(specPath));
  let real: string;
  let realDir: string;
  try {
    real = await realpath(datasetPath);
  } catch (error) {
    throw fileError(error, datasetPath);
  }
  try {
    realDir = await realpath(specDir);
  } catch (error) {
    throw fileError(error, specDir);
  }
  if (!options.allowOutside && !isInside(realDir, real)) {
    throw new SkalaError(
      "FILE_OUTSIDE_SPEC_DIR",
      `${datasetPath}: the dataset${real === datasetPath ? "" : ` (${real})`} is outside the spec's folder ${realDir}; ` +
        "move it inside, or pass --allow-outside-spec-dir to upload it anyway",
    );
  }
  return real;
}

function isInside(folder: string, path: string): boolean {
  const rel = relative(folder, path);
  return rel !== "" && rel !== ".." && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}
