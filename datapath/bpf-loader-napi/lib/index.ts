/**
 * bpf-loader-napi: open, load and pin BPF objects, operate maps, test-run programs and attach them
 * (XDP, tc, cgroup), over libbpf. Knows nothing of Kubernetes. See README.md for the contract.
 * @module
 */
export { BpfError, type BpfErrorProps } from './errors.ts';
export { BpfObject, Collection, type LoadOptions, type MapSpec, type ProgramSpec, type VariableSpec, type RodataValue } from './object.ts';
export { BpfMap, createMap, openPinnedMap, openMapById, type CreateMapOptions, type MapInfo, type MapLayouts, type UpdateFlag } from './map.ts';
export { BpfProgram, openPinnedProgram, type TestRunOptions, type TestRunResult } from './program.ts';
export {
  Link, attachIter, attachXdp, attachTc, attachCgroup, openPinnedLink, tcQuery, tcDetach, xdpQuery, CGROUP_ATTACH_TYPES,
  type CgroupAttachType, type TcDirection, type TcFilterId, type XdpState,
} from './link.ts';
export { netLinks, netAddresses, deleteNetLink, watchNetlink, NetlinkWatch, ADDRESS_SCOPE, type NetLink, type NetAddress, type NetEvent, type NetGroup } from './netlink.ts';
export { netnsCookie, mountBpffs, mallocStats, mallocTrim, releaseFilePages, type MallocStats } from './host.ts';
export { StructCodec, scalarLayout, type Layout, type FieldLayout, type Kind } from './codec.ts';
export { probe } from './probe.ts';
export { addonPath } from './binding.ts';
