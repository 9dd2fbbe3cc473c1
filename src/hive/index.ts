export { P2PHost, PeerNotFound, KAD_PROTOCOL, MDNS_SERVICE_TAG, type P2PHostOptions } from './p2p-host.ts'
export { DnsSdAdvertiser, SERVICE_TYPE, type ServiceRecord } from './dns-sd.ts'
export { Hive, type HiveComponents, type HiveOptions, type MemberView } from './hive.ts'
export type { PeerEvent } from './peer-directory.ts'
