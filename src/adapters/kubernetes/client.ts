// The Kubernetes adapter's entry point: re-exports the cluster client, its loaders and helpers.
export { KubeCluster } from './cluster.ts';
export { KubeClusters, loadKubeConfig } from './clusters.ts';
export { kubernetesError } from './errors.ts';
export { imageDigest, shellQuote, toPodInfo } from './pod-info.ts';
