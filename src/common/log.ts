/**
 * Where library code reports what the caller should know but that is not an error (a classifier left at its
 * initialization, annotation problems fixed while listing): a sink the caller passes in, so that a command line
 * prints it, a test captures it and a server silences it. Library code never writes to `process.stderr` itself.
 */

/** Receives one message, without a trailing newline. */
export type LogSink = (line: string) => void;

/** The command line's sink: one line on stderr per message. */
export const stderrLog: LogSink = (line) => {
  process.stderr.write(`${line}\n`);
};

/** A sink that drops everything (quiet runs). */
export const silentLog: LogSink = () => undefined;
