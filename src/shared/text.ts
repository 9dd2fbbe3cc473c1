/**
 * Text another party chose (a member's refusal, a library's error) made fit to show: control and
 * format characters become spaces, so it cannot move a terminal's cursor or fake a log line,
 * and it is cut to `max` characters.
 */
export function printable (text: string, max: number): string {
  // Line and paragraph separators end lines too; a lone surrogate is not text.
  const clean = [...text.replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu, ' ')]
  return clean.length > max ? `${clean.slice(0, max - 1).join('')}…` : clean.join('')
}
