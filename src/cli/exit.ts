/**
 * Ends a command with a given exit status and a notice on stderr, for endings that are no error (Ctrl-C
 * detaching from a run). The top-level handler prints the notice as it is, without an error code.
 */
export class CommandExit extends Error {
  constructor(
    readonly exitCode: number,
    readonly notice: string,
  ) {
    super(notice);
  }
}
