/** @microbank/containers: the bank of the rendered manifests on a Docker engine, and its images. */
export * from './bank-in-containers.ts';
export * from './docker.ts';
export * from './images.ts';
export * from './pod-runs.ts';
