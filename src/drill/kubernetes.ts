// The simulated Kubernetes API server for drills and tests: re-exports the server, its pod files and API objects.
export * from './kubernetes-cluster.ts';
export * from './kubernetes-files.ts';
export * from './kubernetes-objects.ts';
