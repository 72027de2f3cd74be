/**
 * The flags every converging command shares. Each one that describes a host
 * becomes a setting of the inventory structure (see targets.ts), so it means
 * the same with --host, on this machine and with -i fleet.yaml.
 */
import { Option, type Command } from 'commander';

export interface CommonFlags {
  domain?: string[];
  mail?: string;
  password?: string;
  passwordFile?: string;
  host?: string[];
  inventory?: string;
  limit?: string;
  concurrency?: string;
  lockWait?: string;
  recipes?: string;
  mirror?: string;
  checksums?: string;
  requirePinned?: boolean;
  trustArtifact?: string[];
  proxy?: string;
  noProxy?: string;
  registryAuth?: string;
  openfaasLicense?: string;
  acmeDirectory?: string;
  acmeCa?: string;
  acmeProfile?: string;
  acmeResolver?: string;
  staging?: boolean;
  key?: string;
  knownHosts?: string;
  trustNewHost?: boolean;
  fingerprint?: string;
  progressDir?: string;
  json?: boolean;
  yes?: boolean;
  retryFailed?: boolean;
  deep?: boolean;
  set?: string[];
  allowUnsupportedOs?: boolean;
  openFirewall?: boolean;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/**
 * commander reads any `--no-x` as the negation of `--x`: `--no-proxy LIST`
 * would replace or drop `--proxy`. This one is a list of its own.
 */
function noProxyOption(): Option {
  const o = new Option('--no-proxy <list>', 'hosts that bypass --proxy: names, IPs, CIDRs, .domain (comma-separated)');
  o.negate = false;
  return o;
}

export function addCommon(cmd: Command): Command {
  return cmd
    .option('-d, --domain <name>', 'domain served by nginx and named in the certificate (repeatable)', collect)
    .option('-m, --mail <email>', 'ACME account contact e-mail')
    .option('-p, --password <password>', 'faasd admin password (default: generated on the host; env PANEL_PASSWORD)')
    .option('--password-file <file>', 'read the faasd admin password from a file')
    .option('--host <user@addr[:port]>', 'target host over SSH (repeatable); none and no inventory = this machine', collect)
    .option('-i, --inventory <fleet.yaml>', 'inventory of hosts and groups')
    .option('--limit <names>', 'only these hosts or groups of the inventory (comma-separated)')
    .option('--concurrency <n>', 'hosts provisioned at once', '10')
    .option('--lock-wait <seconds>', 'how long to wait while another panel run is applying on the same host (its host lock), then fail', '600')
    .option('--recipes <ids>', 'recipes to converge, comma-separated (dependencies are added); see `panel recipes`')
    .option('--set <recipe.param=value>', 'recipe parameter (repeatable); lists comma-separated or JSON, e.g. faasd.nameservers=1.1.1.1,8.8.8.8', collect)
    .option('--mirror <url>', 'replaces https://github.com in every artifact URL (keeps GitHub paths)')
    .option('--checksums <file>', 'sha256sum-format checksums for mirror artifacts (paths relative to the mirror)')
    .option('--require-pinned', 'refuse artifacts whose sum is neither pinned nor in --checksums (no release checksum assets)')
    .option('--trust-artifact <name>', 'for an artifact whose upstream publishes no sums (code-server): use the sha256 recorded here on first use (.panel/trusted-artifacts.sha256) (repeatable)', collect)
    .option('--proxy <url>', 'HTTP(S) proxy for containerd and faasd (systemd drop-ins)')
    .addOption(noProxyOption())
    .option('--registry-auth <file>', 'docker config.json with registry credentials for faasd')
    .option('--openfaas-license <file>', 'OpenFaaS Edge licence, installed as /var/lib/faasd/secrets/openfaas_license (0600, never shown)')
    .option('--acme-directory <url>', 'ACME directory URL (default: Let\'s Encrypt production)')
    .option('--staging', 'use Let\'s Encrypt staging')
    .option('--acme-profile <name>', 'ACME profile asked for in new orders, e.g. tlsserver or shortlived (Let\'s Encrypt)')
    .option('--acme-resolver <addr[:port]>', 'DNS server the ACME CA resolves names with (private CAs, Pebble); pre-flight checks ask it (default: this machine\'s resolvers)')
    .option('--acme-ca <file>', 'PEM of a CA to trust for the ACME server\'s own HTTPS (private CAs, Pebble)')
    .option('--key <file>', 'SSH private key (default: ssh-agent)')
    .option('--known-hosts <file>', 'known_hosts file (default: ~/.ssh/known_hosts)')
    .option('--trust-new-host', 'accept and record the key of a host not yet in known_hosts')
    .option('--fingerprint <SHA256:…>', 'pinned host key fingerprint (one host: a single --host, or -i with --limit)')
    .option('--progress-dir <dir>', 'where progress.json and logs go on the host (default: /var/lib/panel)')
    .option('--retry-failed', 'only the hosts that failed in the last run (.panel/last-run.json)')
    .option('--json', 'NDJSON events on stdout instead of the progress display')
    .option('--allow-unsupported-os', 'proceed on a release panel is not tested on (said in the recap)')
    .option('--open-firewall', 'where ufw drops port 80, add `ufw allow 80,443/tcp` before ordering a certificate (shown in the plan)');
}
