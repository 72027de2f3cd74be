/**
 * The OpenFaaS gateway's REST API as faasd serves it (faas-provider's
 * `types.FunctionDeployment` and `types.FunctionStatus`, JSON names as on
 * the wire). Responses are parsed with zod: a gateway that answers
 * something else is an error naming the endpoint, never a guess.
 */
import { z } from 'zod';

const resources = z.object({ memory: z.string().optional(), cpu: z.string().optional() }).partial();

/** POST/PUT /system/functions. */
export interface FunctionDeployment {
  readonly service: string;
  readonly image: string;
  readonly namespace?: string;
  readonly envProcess?: string;
  readonly envVars?: Readonly<Record<string, string>>;
  readonly constraints?: readonly string[];
  readonly secrets?: readonly string[];
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly limits?: { readonly memory?: string; readonly cpu?: string };
  readonly requests?: { readonly memory?: string; readonly cpu?: string };
  readonly readOnlyRootFilesystem?: boolean;
}

/** One entry of GET /system/functions, or GET /system/function/NAME. */
export const functionStatus = z.object({
  name: z.string(),
  image: z.string(),
  namespace: z.string().optional(),
  envProcess: z.string().optional(),
  envVars: z.record(z.string(), z.string()).nullish(),
  secrets: z.array(z.string()).nullish(),
  labels: z.record(z.string(), z.string()).nullish(),
  annotations: z.record(z.string(), z.string()).nullish(),
  limits: resources.nullish(),
  replicas: z.number().optional(),
  availableReplicas: z.number().optional(),
});
export type FunctionStatus = z.output<typeof functionStatus>;

export const functionList = z.array(functionStatus);

/** GET /system/secrets: names only; values never leave the host. */
export const secretList = z.array(z.object({ name: z.string() }));

/** The namespace faasd deploys to when none is asked for (faasd pkg.DefaultFunctionNamespace). */
export const DEFAULT_NAMESPACE = 'openfaas-fn';
/** Where faasd-provider keeps function secrets: `secret_mount_path`/<namespace>/<name> (faasd cmd/install.go, handlers/utils.go). */
export const SECRET_MOUNT_PATH = '/var/lib/faasd/secrets';
/** faasd CE refuses to deploy more functions than this (pkg/provider/handlers/info.go `faasdMaxFunctions`). */
export const CE_MAX_FUNCTIONS = 15;
