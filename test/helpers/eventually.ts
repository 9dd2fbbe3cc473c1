/**
 * Reads `read` until `done` holds or `timeoutMs` passes, and returns the last value read: the
 * caller asserts on it, so a timeout fails with what was actually seen.
 */
export async function eventually<T> (read: () => Promise<T> | T, done: (v: T) => boolean, timeoutMs = 10_000, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let v = await read()
  while (!done(v) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
    v = await read()
  }
  return v
}
