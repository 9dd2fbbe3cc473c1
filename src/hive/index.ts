export { P2PHost, KAD_PROTOCOL, type P2PHostOptions, type ConnectedPeer } from './p2p-host.ts'
