/**
 * faasd's network constants (pkg/cninetwork): the bridge, its subnet and
 * gateway, and the conflist data — one place for the bridge, CNI and faasd
 * recipes, so they cannot disagree about 10.62.0.1.
 */
export const OPENFAAS_NET = {
  networkName: 'openfaas-cni-bridge',
  bridge: 'openfaas0',
  subnet: '10.62.0.0/16',
  gateway: '10.62.0.1',
  address: '10.62.0.1/16',
  dataDir: '/var/run/cni',
} as const;

export const conflistData = {
  name: OPENFAAS_NET.networkName,
  bridge: OPENFAAS_NET.bridge,
  subnet: OPENFAAS_NET.subnet,
  dataDir: OPENFAAS_NET.dataDir,
} as const;
