/**
 * The OpenFaaS gateway image (the bed registry's STAND-IN, test/testbed/images.ts)
 * run on a host panel provisioned, the way faasd's docker-compose.yaml runs it:
 * pulled by containerd from ghcr.io, its image user (non-root `app`), basic_auth
 * on, the two secret files panel wrote bind-mounted at /run/secrets, and
 * /etc/hosts naming the provider at the bridge address as faasd's
 * /var/lib/faasd/hosts does. With `network`, the task sits on panel's CNI
 * network (openfaas0, via the conflist panel wrote) and its /healthz goes
 * through the gateway to the provider at 10.62.0.1:8081 — real container traffic.
 */
import type { RunResult } from '../testbed/run.js';

export const GATEWAY_IMAGE = 'ghcr.io/openfaas/gateway:0.27.13';
export const NAMESPACE = 'openfaas';
export const FUNCTION_IMAGE = 'ghcr.io/openfaas-testbed/hello:1.0';

type Exec = (cmd: string, opts?: { timeoutMs?: number }) => Promise<RunResult>;

// upstream_timeout=5s: the probe's gateway gives up on a provider that does not answer (ufw dropping its
// packets) well inside the probe's curl -m 15, so that case is the gateway's 502, not curl's timeout.
const RUN_ARGS = String.raw`--env basic_auth=true --env secret_mount_path=/run/secrets \
  --env functions_provider_url=http://faasd-provider:8081/ --env upstream_timeout=5s \
  --mount type=bind,src=/var/lib/faasd/secrets/basic-auth-password,dst=/run/secrets/basic-auth-password,options=rbind:ro \
  --mount type=bind,src=/var/lib/faasd/secrets/basic-auth-user,dst=/run/secrets/basic-auth-user,options=rbind:ro \
  --mount type=bind,src=/run/panel-probe-hosts,dst=/etc/hosts,options=rbind:ro`;

const PREPARE = String.raw`set -e
printf '127.0.0.1 localhost\n10.62.0.1 faasd-provider\n' > /run/panel-probe-hosts
ctr -n ${NAMESPACE} images pull ${GATEWAY_IMAGE} > /dev/null`;

export interface GatewayProbe {
  /** uid the gateway process runs as, seen from the host. */
  uid: number;
  /** HTTP status of GET /healthz on the gateway container's own address. */
  healthz: string;
  /** The task's log. */
  log: string;
}

/** Start the gateway on the CNI network, probe it, remove it; throws with the task's log when it does not come up. */
export async function probeGateway(exec: Exec, id: string): Promise<GatewayProbe> {
  const r = await exec(
    String.raw`${PREPARE}
ctr -n ${NAMESPACE} run -d --cni --log-uri file:///run/${id}.log ${RUN_ARGS} ${GATEWAY_IMAGE} ${id} > /dev/null
cleanup() { ctr -n ${NAMESPACE} tasks kill -s SIGKILL ${id} >/dev/null 2>&1 || true; sleep 0.3; ctr -n ${NAMESPACE} tasks rm -f ${id} >/dev/null 2>&1 || true; ctr -n ${NAMESPACE} containers rm ${id} >/dev/null 2>&1 || true; }
trap cleanup EXIT
ip=
for i in $(seq 100); do
  ip=$(grep -l -- "${id}" /var/run/cni/openfaas-cni-bridge/* 2>/dev/null | head -1 | xargs -r basename)
  # Up when it answers at all (/ui/ is the gateway's own: 401 without credentials).
  [ -n "$ip" ] && curl -s -o /dev/null -m 2 "http://$ip:8080/ui/" && break
  sleep 0.1
done
pid=$(ctr -n ${NAMESPACE} tasks ls | awk '$1 == "${id}" { print $2 }')
echo "uid=$(stat -c %u /proc/$pid 2>/dev/null)"
echo "healthz=$(curl -s -o /dev/null -m 15 -w '%{http_code}' "http://$ip:8080/healthz")"
echo "--- log"
cat /run/${id}.log 2>/dev/null || true`,
    { timeoutMs: 120_000 },
  );
  if (r.code !== 0) throw new Error(`gateway container ${id}: exit ${r.code}\n${r.stdout}${r.stderr}`);
  const uid = Number(/^uid=(\d+)$/m.exec(r.stdout)?.[1] ?? NaN);
  const healthz = /^healthz=(\d+)$/m.exec(r.stdout)?.[1] ?? '';
  return { uid, healthz, log: r.stdout.split('--- log\n')[1] ?? '' };
}

/** Run the gateway in the foreground until it exits (it should not, unless it cannot start): its exit code and output. */
export async function gatewayStartFailure(exec: Exec, id: string): Promise<{ code: number; output: string }> {
  const r = await exec(
    String.raw`${PREPARE}
set +e
timeout 20 ctr -n ${NAMESPACE} run --rm ${RUN_ARGS} ${GATEWAY_IMAGE} ${id} 2>&1
code=$?
ctr -n ${NAMESPACE} tasks kill -s SIGKILL ${id} >/dev/null 2>&1; ctr -n ${NAMESPACE} tasks rm -f ${id} >/dev/null 2>&1; ctr -n ${NAMESPACE} containers rm ${id} >/dev/null 2>&1
echo "exit=$code"`,
    { timeoutMs: 120_000 },
  );
  const code = Number(/^exit=(\d+)$/m.exec(r.stdout)?.[1] ?? NaN);
  return { code, output: r.stdout.replace(/^exit=\d+\n?$/m, '') };
}

/**
 * Real tasks running for a teardown to face: faasd's own core services in
 * `openfaas` (the gateway among them, started by faasd up) and the test
 * function in `openfaas-fn`, deployed as a user does through the gateway's
 * /system/functions with the admin credentials (from a file, never in argv).
 * Returns their shims' pids.
 */
export async function startCoreAndFunctionTasks(exec: Exec): Promise<string[]> {
  const deploy = JSON.stringify({ service: 'hello', image: FUNCTION_IMAGE, envVars: { fn_name: 'hello' } });
  const r = await exec(
    String.raw`set -e
for i in $(seq 100); do curl -sf -m 2 -o /dev/null http://127.0.0.1:8080/healthz && break; sleep 0.2; done
printf 'user = "admin:%s"\n' "$(cat /var/lib/faasd/secrets/basic-auth-password)" > /run/panel-deploy-auth
code=$(curl -sS -o /dev/null -w '%{http_code}' -K /run/panel-deploy-auth -X POST --data-binary '${deploy}' http://127.0.0.1:8080/system/functions)
rm -f /run/panel-deploy-auth
[ "$code" = 200 ] || { echo "deploy answered $code"; exit 1; }
for i in $(seq 50); do
  [ "$(ctr -n ${NAMESPACE} tasks ls | awk '$1 == "gateway" { print $3 }')" = RUNNING ] && [ "$(ctr -n openfaas-fn tasks ls | awk '$1 == "hello" { print $3 }')" = RUNNING ] && break
  sleep 0.1
done
ctr -n ${NAMESPACE} tasks ls | grep '^gateway '; ctr -n openfaas-fn tasks ls | grep '^hello '
pgrep -f '[c]ontainerd-shim' | sort`,
    { timeoutMs: 120_000 },
  );
  if (r.code !== 0 || (r.stdout.match(/RUNNING/g) ?? []).length !== 2) throw new Error(`tasks did not start: ${r.stdout}${r.stderr}`);
  return r.stdout.trim().split('\n').filter((l) => /^\d+$/.test(l));
}
