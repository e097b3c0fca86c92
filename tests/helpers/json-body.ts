/** A response body as JSON when it parses, else as the text itself; an empty body is undefined. */
export function jsonOrText(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
