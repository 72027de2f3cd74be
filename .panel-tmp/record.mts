// Records the scripts a no-op `check` sends, runs the combined one again with timestamps per line.
import { writeFileSync } from 'node:fs';
import { main } from '../src/cli/main.js';
import { openTransport } from '../src/transport/index.js';
import type { Transport } from '../src/transport/types.js';
const scripts: string[] = [];
let inner: Transport | undefined;
const B = '/run/panel-testbed/ptb1';
const code = await main(['check', '--host', 'root@10.231.1.11', '--key', `${B}/id_ed25519`, '--known-hosts', `${B}/known_hosts`, '--mirror', 'http://10.231.1.1:8090', '--checksums', `${B}/mirror/SHA256SUMS`, '--json'], {
  connect: async (c) => {
    inner = await openTransport(c.connection, c.name);
    const t = inner;
    return { name: t.name, get stats() { return t.stats; }, exec: async (s: string, o?: object) => { scripts.push(s); return t.exec(s, o); }, put: t.put.bind(t), get: t.get.bind(t), close: () => t.close() } as Transport;
  },
});
process.stderr.write(`exit ${code}, ${scripts.length} scripts\n`);
writeFileSync('/tmp/perf/script0.sh', scripts[0]!);
