/** Secret and redact: the second line of defence every sink passes its text through. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inspect } from 'node:util';
import { MASK, Secret, redact } from '../../src/secret.js';

const PW = 'unit-redact-9d1f$(x)`y`\'";{{z}}}\\q\ttab';

test('a Secret prints, serialises and inspects as the mask', () => {
  const s = new Secret(PW);
  assert.equal(String(s), MASK);
  assert.equal(JSON.stringify({ s }), `{"s":"${MASK}"}`);
  assert.ok(!inspect(s).includes('unit-redact'));
});

test('redact masks a secret in plain text and inside JSON, where its quotes, backslashes and tabs are escaped', () => {
  new Secret(PW);
  assert.equal(redact(`password ${PW} in a log line`), `password ${MASK} in a log line`);
  const json = redact(JSON.stringify({ reason: `value differs (${PW})` }));
  assert.ok(!json.includes('unit-redact'), json);
  assert.deepEqual(JSON.parse(json), { reason: `value differs (${MASK})` }, 'still valid JSON');
});
