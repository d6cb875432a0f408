/**
 * Kernel feature probes (libbpf loads a tiny program or map to find out).
 * @module
 */
import { native } from './binding.ts';
import { checkString } from './errors.ts';

export const probe = {
  /** e.g. 'xdp', 'sched_cls', 'cgroup_sock_addr'. */
  programType(type: string): boolean {
    checkString('type', type);
    return native.probeProgramType(type);
  },
  /** e.g. 'lru_hash', 'lpm_trie', 'hash_of_maps'. */
  mapType(type: string): boolean {
    checkString('type', type);
    return native.probeMapType(type);
  },
  /** Helper by UAPI name, with or without 'bpf_': probe.helper('sched_cls', 'bpf_redirect_neigh'). */
  helper(programType: string, helper: string): boolean {
    checkString('programType', programType);
    checkString('helper', helper);
    return native.probeHelper(programType, helper);
  },
};
