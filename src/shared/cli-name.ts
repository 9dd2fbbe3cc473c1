/**
 * The command as the person runs it, for messages that tell them what to type next: from a
 * checkout (`npm start`, `npx edge-hive ...`) npm sets `npm_command`, and `edge-hive` alone would
 * not be found on their PATH; installed globally or in the container it is `edge-hive`.
 */
export function cliName (env: NodeJS.ProcessEnv = process.env): string {
  return env.npm_command !== undefined ? 'npx edge-hive' : 'edge-hive'
}
