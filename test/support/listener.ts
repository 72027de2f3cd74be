/**
 * A TCP listener on the runner that counts connections and drops them: aimed
 * at as a "host", it shows whether panel tried to connect (a count, where a
 * stopwatch would only guess).
 */
import { type AddressInfo, createServer } from 'node:net';

export interface CountingListener {
  /** `127.0.0.1:PORT`, for `--host root@…`. */
  readonly address: string;
  connections(): number;
  close(): Promise<void>;
}

export async function countingListener(): Promise<CountingListener> {
  let n = 0;
  const server = createServer((s) => {
    n++;
    s.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    connections: () => n,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
