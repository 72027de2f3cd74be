/**
 * Render templates/<source> the way the `template` resource does (handlebars,
 * noEscape, strict), for content that feeds `unit` resources — those take a
 * string so that a change triggers `systemctl daemon-reload`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Handlebars from 'handlebars';
import { templatesDir } from '../src/paths.js';

const compiled = new Map<string, HandlebarsTemplateDelegate>();

export function render(source: string, data: Readonly<Record<string, unknown>>): string {
  let t = compiled.get(source);
  if (!t) {
    t = Handlebars.compile(readFileSync(join(templatesDir, source), 'utf8'), { noEscape: true, strict: true });
    compiled.set(source, t);
  }
  return t(data);
}
