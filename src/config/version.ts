/**
 * @module
 * Version facts shared by --version, validation of showHiddenMetricsForVersion, and the
 * start-up log line. KUBE_PROXY_BPF_VERSION must equal package.json's version (a test checks).
 */
export const KUBE_PROXY_BPF_VERSION = '0.1.0';
/** The kube-proxy release whose behaviour, flags and config we reproduce. */
export const KUBERNETES_VERSION = 'v1.37.2';
