import { readFileSync } from "node:fs";
import { main } from "./main.js";

// The process entry point, and the only place the CLI reads the process: argv, environment, streams,
// signals and the package version are read once here and passed in.

// A closed pipe (`skala versions search … | head -1`) ends the command quietly: the reader has what it
// wanted, and an EPIPE stack trace would be noise.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(0);
  throw error;
});
process.stderr.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code !== "EPIPE") throw error;
});

// ../../package.json from both src/cli/bin.ts and dist/cli/bin.js.
const { version } = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
  version: string;
};

const status = await main(process.argv, {
  env: process.env,
  stdout: process.stdout,
  stderr: process.stderr,
  version,
  onSignal: (signal, handler) => {
    process.on(signal, handler);
    return () => {
      process.off(signal, handler);
    };
  },
});
process.exitCode = status;
// Every command closes what it opened, so the process ends here by itself. Should a handle leak anyway, say so
// and exit rather than hang (the timer is unref'd: it never keeps a clean process alive).
setTimeout(() => {
  process.stderr.write("skala: open handles kept the process alive after the command finished; exiting\n");
  process.exit(status);
}, 10_000).unref();
