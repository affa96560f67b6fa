/**
 * Server-Sent Events framing, for GraphQL subscriptions over `fetch` (EventSource cannot send
 * an Authorization header). Feed chunks of text; complete events come out. Pure.
 */
export interface SseEvent { event: string; data: string }

export class SseParser {
  private buf = '';

  /** Events completed by this chunk (an event ends with a blank line). */
  push(chunk: string): SseEvent[] {
    this.buf += chunk.replace(/\r\n?/g, '\n');
    const out: SseEvent[] = [];
    let i: number;
    while ((i = this.buf.indexOf('\n\n')) >= 0) {
      const block = this.buf.slice(0, i);
      this.buf = this.buf.slice(i + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (!line || line.startsWith(':')) continue;
        const c = line.indexOf(':');
        const field = c < 0 ? line : line.slice(0, c);
        const value = c < 0 ? '' : line.slice(c + 1).replace(/^ /, '');
        if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
      }
      if (data.length || event !== 'message') out.push({ event, data: data.join('\n') });
    }
    return out;
  }
}
