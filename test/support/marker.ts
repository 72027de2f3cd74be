/** A minimal real resource for engine tests: a file whose content is exactly `text`. */
import { join } from 'node:path';
import type { Change, Resource } from '../../src/resources/types.js';
import { sh } from '../../src/shell.js';

/** `fail`: its apply step exits 7 with "disk on fire" on stderr instead of writing. */
export function marker(dir: string, name: string, text: string, fail = false): Resource<{ content: string | undefined }> {
  const path = join(dir, name);
  return {
    key: `marker:${name}`,
    facts: () => sh`if [ -e ${path} ]; then printf 'content=%s\\n' "$(cat ${path})"; else echo absent=1; fi`,
    parse: (out) => {
      const m = /^content=(.*)$/m.exec(out.stdout);
      return { content: m ? m[1] : undefined };
    },
    plan: (facts): Change[] =>
      facts.content === text
        ? []
        : [
            {
              resource: `marker:${name}`,
              action: facts.content === undefined ? 'create' : 'update',
              target: path,
              reason: facts.content === undefined ? 'absent' : 'content differs',
              script: fail ? sh`echo "disk on fire" >&2; exit 7` : sh`printf '%s' ${text} > ${path}`,
            },
          ],
  };
}
