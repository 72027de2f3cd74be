/** RFC 8555 §6.1: ACME clients MUST send a User-Agent (Pebble ≥ 2.7 refuses requests without one). Own module: no acme-client load. */
export const USER_AGENT = 'panel (ACME client: acme-client)';
