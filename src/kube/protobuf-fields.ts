/**
 * @module
 * The Kubernetes protobuf messages and fields the proxy reads: the projections of projections.ts,
 * plus the envelope (runtime.Unknown), list and watch wrappers and Status. The schema generator
 * (scripts/gen-k8s-proto.ts) reads exactly these from the `generated.proto` files of the
 * k8s.io/api and k8s.io/apimachinery Go modules at build time and fails when one is missing, so a
 * renamed field breaks the build, not the agent; the decoder (protobuf-decoder.ts) walks only
 * these fields and skips every other one.
 */

const META = 'k8s.io.apimachinery.pkg.apis.meta.v1';
const RUNTIME = 'k8s.io.apimachinery.pkg.runtime';
const CORE = 'k8s.io.api.core.v1';
const DISCOVERY = 'k8s.io.api.discovery.v1';
const NETWORKING = 'k8s.io.api.networking.v1';

export const K8S_PROTO_PACKAGES = { META, RUNTIME, CORE, DISCOVERY, NETWORKING } as const;

/** Module-relative paths of the proto files, by Go module. */
export const K8S_PROTO_FILES = {
  'k8s.io/api': ['core/v1/generated.proto', 'discovery/v1/generated.proto', 'networking/v1/generated.proto'],
  'k8s.io/apimachinery': ['pkg/apis/meta/v1/generated.proto', 'pkg/runtime/generated.proto'],
} as const;

/** Message full name -> the fields read. */
export const K8S_PROTO_FIELDS: Record<string, readonly string[]> = {
  [`${RUNTIME}.Unknown`]: ['typeMeta', 'raw', 'contentEncoding', 'contentType'],
  [`${RUNTIME}.TypeMeta`]: ['apiVersion', 'kind'],
  [`${RUNTIME}.RawExtension`]: ['raw'],
  [`${META}.ListMeta`]: ['resourceVersion', 'continue'],
  [`${META}.ObjectMeta`]: ['name', 'namespace', 'uid', 'resourceVersion', 'creationTimestamp', 'deletionTimestamp', 'labels', 'annotations'],
  [`${META}.Time`]: ['seconds', 'nanos'],
  [`${META}.WatchEvent`]: ['type', 'object'],
  [`${META}.Status`]: ['status', 'message', 'reason', 'code'],
  [`${CORE}.ServiceList`]: ['metadata', 'items'],
  [`${CORE}.Service`]: ['metadata', 'spec', 'status'],
  [`${CORE}.ServiceSpec`]: [
    'type', 'clusterIP', 'clusterIPs', 'externalIPs', 'loadBalancerSourceRanges', 'sessionAffinity', 'sessionAffinityConfig',
    'externalTrafficPolicy', 'internalTrafficPolicy', 'healthCheckNodePort', 'trafficDistribution', 'ports',
  ],
  [`${CORE}.ServicePort`]: ['name', 'protocol', 'port', 'nodePort'],
  [`${CORE}.SessionAffinityConfig`]: ['clientIP'],
  [`${CORE}.ClientIPConfig`]: ['timeoutSeconds'],
  [`${CORE}.ServiceStatus`]: ['loadBalancer'],
  [`${CORE}.LoadBalancerStatus`]: ['ingress'],
  [`${CORE}.LoadBalancerIngress`]: ['ip', 'ipMode'],
  [`${CORE}.NodeList`]: ['metadata', 'items'],
  [`${CORE}.Node`]: ['metadata', 'spec', 'status'],
  [`${CORE}.NodeSpec`]: ['taints', 'podCIDRs'],
  [`${CORE}.Taint`]: ['key', 'value', 'effect'],
  [`${CORE}.NodeStatus`]: ['addresses'],
  [`${CORE}.NodeAddress`]: ['type', 'address'],
  [`${DISCOVERY}.EndpointSliceList`]: ['metadata', 'items'],
  [`${DISCOVERY}.EndpointSlice`]: ['metadata', 'addressType', 'endpoints', 'ports'],
  [`${DISCOVERY}.Endpoint`]: ['addresses', 'conditions', 'nodeName', 'zone', 'hints'],
  [`${DISCOVERY}.EndpointConditions`]: ['ready', 'serving', 'terminating'],
  [`${DISCOVERY}.EndpointHints`]: ['forZones', 'forNodes'],
  [`${DISCOVERY}.ForZone`]: ['name'],
  [`${DISCOVERY}.ForNode`]: ['name'],
  [`${DISCOVERY}.EndpointPort`]: ['name', 'protocol', 'port'],
  [`${NETWORKING}.ServiceCIDRList`]: ['metadata', 'items'],
  [`${NETWORKING}.ServiceCIDR`]: ['metadata', 'spec'],
  [`${NETWORKING}.ServiceCIDRSpec`]: ['cidrs'],
};

/** One field as the generated schema describes it. */
export type ProtoField = {
  id: number;
  /** A scalar type name (string, bytes, bool, int32, int64...) or a message full name. */
  type: string;
  repeated: boolean;
  /** map<key, value>: the key's scalar type (the value's type is `type`). */
  keyType?: string;
  /** The Go field is a pointer: present exactly when set (else empty values are left out). */
  pointer?: boolean;
};

/** The generated schema: message full name -> field name -> field. */
export type ProtoSchema = { source: string; messages: Record<string, Record<string, ProtoField>> };
