import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A small tmpfs for disk-full tests: real ENOSPC and SQLITE_FULL from the kernel, not from a stub. */
export interface TinyFs {
  dir: string;
  unmount(): void;
}

/**
 * Mounts a tmpfs of `bytes` (rounded up to KiB) on a fresh directory, or says why it cannot (not root, no
 * mount(8), a container without CAP_SYS_ADMIN); tests skip their tiny-filesystem variant with that reason.
 *
 * @example
 * const tiny = mountTinyFs(2 << 20);
 * it.skipIf(typeof tiny === "string")("answers 507 when the disk is full", ...);
 */
export function mountTinyFs(bytes: number): TinyFs | string {
  const dir = mkdtempSync(join(tmpdir(), "skala-tinyfs-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${Math.ceil(bytes / 1024)}k`, "tmpfs", dir], {
      stdio: "pipe",
    });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    const stderr = String((error as { stderr?: Buffer }).stderr ?? "").trim();
    return `cannot mount a tmpfs here (${stderr || (error as Error).message})`;
  }
  return {
    dir,
    unmount() {
      execFileSync("umount", ["-l", dir], { stdio: "pipe" });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
