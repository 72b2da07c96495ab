import { main } from "./main.js";

// The process entry point: parse argv, run, exit with the command's status.
const status = await main(process.argv);
process.exitCode = status;
// Every command closes what it opened, so the process ends here by itself. Should a handle leak anyway, say so
// and exit rather than hang (the timer is unref'd: it never keeps a clean process alive).
setTimeout(() => {
  process.stderr.write("skala: open handles kept the process alive after the command finished; exiting\n");
  process.exit(status);
}, 10_000).unref();
