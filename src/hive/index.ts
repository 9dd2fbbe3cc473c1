export { P2PHost, PeerNotFound, KAD_PROTOCOL, MDNS_SERVICE_TAG, type P2PHostOptions, type ConnectedPeer } from './p2p-host.ts'
export { DnsSdAdvertiser, SERVICE_TYPE, type ServiceRecord } from './dns-sd.ts'
