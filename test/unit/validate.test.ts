import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateAcmeDirectory, validateDomain, validateDomains, validateEmail } from '../../src/validate/index.js';

const goodDomains: [string, string][] = [
  ['example.com', 'example.com'],
  ['Example.COM', 'example.com'],
  ['example.com.', 'example.com'],
  ['a.b.c.example.org', 'a.b.c.example.org'],
  ['xn--bcher-kva.de', 'xn--bcher-kva.de'],
  ['bücher.de', 'xn--bcher-kva.de'],
  ['例え.テスト', 'xn--r8jz45g.xn--zckzah'],
  ['ＥＸＡＭＰＬＥ.com', 'example.com'],
  ['a-b.example', 'a-b.example'],
  ['1password.com', '1password.com'],
  [`${'a'.repeat(63)}.com`, `${'a'.repeat(63)}.com`],
];

const badDomains: [string, RegExp][] = [
  ['', /empty/],
  ['*.example.com', /wildcard/],
  ['1.2.3.4', /IP address/],
  ['::1', /IP address|character/],
  ['[2001:db8::1]', /IP address/],
  ['localhost', /single label/],
  ['-a.example.com', /hyphen/],
  ['a-.example.com', /hyphen/],
  ['a..example.com', /empty label/],
  ['.example.com', /empty label/],
  [`${'a'.repeat(64)}.com`, /longer than 63/],
  [Array.from({ length: 42 }, () => 'abcde').join('.') + '.com', /253/],
  ['a_b.example.com', /character "_"/],
  ['https://example.com', /URL/],
  ['example.com/path', /character "\/"/],
  ['example.com:443', /character ":"/],
  ['example.123', /all-numeric|not a valid/],
  ['xn--zz.com', /not a valid/],
  // shell and nginx metacharacters
  ['example.com;reboot', /character ";"/],
  ['$(reboot).example.com', /character "\$"/],
  ['`id`.example.com', /character "`"/],
  ['a|b.example.com', /character "\|"/],
  ['a&b.example.com', /character "&"/],
  ["a'b.example.com", /character "'"/],
  ['a"b.example.com', /character "\\""/],
  ['a>b.example.com', /character ">"/],
  ['a\\b.example.com', /character "\\\\"/],
  ['a{b}.example.com', /character "\{"/],
  ['example.com\nserver_name evil', /whitespace or a control/],
  ['exa mple.com', /whitespace/],
  ['a\u0000b.com', /control/],
  ['a；b.example.com', /";" after IDN/], // full-width semicolon maps to ';'
];

for (const [input, want] of goodDomains) {
  test(`domain ok: ${JSON.stringify(input)}`, () => {
    assert.deepEqual(validateDomain(input), { ok: true, value: want });
  });
}
for (const [input, re] of badDomains) {
  test(`domain rejected: ${JSON.stringify(input).slice(0, 60)}`, () => {
    const r = validateDomain(input);
    assert.equal(r.ok, false);
    if (!r.ok) assert.match(r.error, re);
  });
}

test('domain lists: duplicates after normalisation and all errors at once', () => {
  const r = validateDomains(['Example.com', 'example.com.', '*.x.com', 'ok.example']);
  assert.equal(r.ok, false);
  if (!r.ok) {
    assert.equal(r.error.length, 2);
    assert.match(r.error[0]!, /twice/);
    assert.match(r.error[1]!, /wildcard/);
  }
  assert.deepEqual(validateDomains(['a.example', 'B.example']), { ok: true, value: ['a.example', 'b.example'] });
});

const goodEmails: [string, string][] = [
  ['admin@mail.example.io', 'admin@mail.example.io'],
  ['first.last+panel@sub.example.org', 'first.last+panel@sub.example.org'],
  ['ops@bücher.de', 'ops@xn--bcher-kva.de'],
];
const badEmails: [string, RegExp][] = [
  ['', /empty/],
  ['admin', /name@domain/],
  ['@example.com', /name@domain/],
  ['admin@', /name@domain/],
  ['admin@example.com', /example\.com is reserved for examples and a CA refuses it; .*leave -m out/],
  ['admin@Example.NET', /example\.net is reserved/],
  ['admin@example.org', /example\.org is reserved/],
  ['mailto:admin@example.com', /mailto/],
  ['ad min@example.com', /before @/],
  ['.admin@example.com', /before @/],
  ['ad..min@example.com', /before @/],
  ['admin@localhost', /single label/],
  ['admin@1.2.3.4', /IP address/],
  ['a;reboot@example.com', /before @/],
  ['$(id)@example.com', /before @/],
  ['`id`@example.com', /before @/],
  ["o'brien@example.com", /before @/],
  ['a|b@example.com', /before @/],
  ['admin@example.com;id', /character ";"/],
  ['admin@example.com\nX: y', /whitespace|control/],
  [`${'a'.repeat(65)}@example.com`, /64/],
];
for (const [input, want] of goodEmails) {
  test(`email ok: ${input}`, () => assert.deepEqual(validateEmail(input), { ok: true, value: want }));
}
for (const [input, re] of badEmails) {
  test(`email rejected: ${JSON.stringify(input)}`, () => {
    const r = validateEmail(input);
    assert.equal(r.ok, false);
    if (!r.ok) assert.match(r.error, re);
  });
}

test('ACME directory URLs', () => {
  assert.equal(validateAcmeDirectory('https://acme-v02.api.letsencrypt.org/directory').ok, true);
  assert.equal(validateAcmeDirectory('https://10.0.0.1:14000/dir').ok, true);
  assert.equal(validateAcmeDirectory('http://localhost:14000/dir').ok, true);
  assert.equal(validateAcmeDirectory('http://ca.example/dir').ok, false);
  assert.equal(validateAcmeDirectory('https://u:p@ca.example/dir').ok, false);
  assert.equal(validateAcmeDirectory('not a url').ok, false);
});

test('--acme-resolver: an IP address with an optional port', async () => {
  const { validResolver } = await import('../../src/validate/resolver.js');
  for (const ok of ['10.0.0.53', '10.0.0.53:8053', '[fd00::53]:53', 'fd00::53']) assert.equal(validResolver(ok), true, ok);
  for (const bad of ['dns.example', '10.0.0.53:0', '10.0.0.53:70000', '10.0.0.53:x', '[fd00::53', '']) assert.equal(validResolver(bad), false, bad);
});
