import { main } from "./main.js";

// The process entry point: parse argv, run, exit with the command's status.
process.exitCode = await main(process.argv);
