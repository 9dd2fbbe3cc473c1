export { createHttpServer, type HttpServer, type HttpServerOptions } from './server.ts'
export { registerHealthRoutes, type HealthComponents } from './routes/health.ts'
export { registerNodeInfoRoutes, type NodeInfoComponents } from './routes/node-info.ts'
export { HttpError, toHttpAnswer, type ErrorBody } from './errors.ts'
