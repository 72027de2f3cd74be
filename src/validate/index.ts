export { domainNames, MAX_NAMES, validateDomain, validateDomains, type DomainName } from './domain.js';
export { validateEmail } from './email.js';
export { validateAcmeDirectory } from './url.js';
