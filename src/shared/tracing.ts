import type { Tracer } from '@opentelemetry/api'

/** The node's traces: a tracer when `--otel-endpoint` is set, and how to send what is left at stop. */
export interface Tracing {
  tracer: Tracer | undefined
  shutdown (): Promise<void>
}

/** How long spans wait to be sent in a batch. */
const BATCH_DELAY_MS = 1_000

/**
 * Starts exporting traces over OTLP (HTTP, JSON) to `endpoint` (a collector's base URL; spans go
 * to `<endpoint>/v1/traces`). Without an endpoint nothing is loaded and nothing is traced: the
 * OpenTelemetry SDK is imported only when it is used.
 */
export async function startTracing (endpoint: string | undefined, node: { nodeId: string, name: string, version: string }): Promise<Tracing> {
  if (endpoint === undefined) return { tracer: undefined, shutdown: async () => undefined }
  const [{ TracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }, { resourceFromAttributes }] = await Promise.all([
    import('@opentelemetry/sdk-trace'), import('@opentelemetry/exporter-trace-otlp-http'), import('@opentelemetry/resources')
  ])
  const provider = new TracerProvider({
    // What a caller sends (method names, tool names, URIs) ends up in spans: each value is cut short.
    spanLimits: { attributeValueLengthLimit: 256, attributeCountLimit: 32, eventCountLimit: 16, linkCountLimit: 4 },
    resource: resourceFromAttributes({ 'service.name': 'edge-hive', 'service.version': node.version, 'service.instance.id': node.nodeId, 'edge_hive.node.name': node.name }),
    spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: `${endpoint}/v1/traces` }), scheduledDelayMillis: BATCH_DELAY_MS })]
  })
  return { tracer: provider.getTracer('edge-hive', node.version), shutdown: async () => { await provider.shutdown().catch(() => undefined) } }
}
