export { err, ok, type Result } from './result.js';
export { domainNames, MAX_NAMES, validateDomain, validateDomains, type DomainName } from './domain.js';
export { validateEmail } from './email.js';
export { validateAcmeDirectory } from './url.js';
