/**
 * stdout for a reader that may leave early (`panel install --json | head -3`).
 * Once the pipe is closed (EPIPE) further output is dropped instead of
 * killing the process mid-apply: the run completes, the recap goes to
 * stderr's reader if any, and `.panel/last-run.json` is written as usual.
 */
export interface GuardedOutput {
  /** True once the reader has gone away. */
  readonly closed: () => boolean;
}

export function guardOutput(stream: NodeJS.WriteStream = process.stdout): GuardedOutput {
  let closed = false;
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') {
      closed = true;
      return;
    }
    // Another write error (disk full behind a redirect): say it once, keep the run going.
    if (!closed) process.stderr.write(`panel: cannot write to stdout: ${e.message}\n`);
    closed = true;
  });
  const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
  stream.write = ((...args: unknown[]): boolean => {
    if (closed) {
      const cb = args.find((a) => typeof a === 'function') as (() => void) | undefined;
      cb?.();
      return true;
    }
    return write(...args);
  });
  return { closed: () => closed };
}
