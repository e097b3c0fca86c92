import { createServer, request, type Server } from 'node:http';

export interface RecordedBulk {
  /** `_id` of every action line in the request, in order. */
  ids: string[];
  status: number;
}

/**
 * An HTTP proxy in front of OpenSearch that forwards everything unchanged and records each `_bulk` request's
 * document ids: the test sees exactly what went over the wire, including which items were sent again.
 */
export class RecordingProxy {
  private server: Server | null = null;
  readonly bulks: RecordedBulk[] = [];
  port = 0;

  constructor(private readonly target: URL) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const isBulk = (req.url ?? '').split('?')[0]!.endsWith('/_bulk');
        const upstream = request(
          { host: this.target.hostname, port: this.target.port, method: req.method, path: req.url, headers: { ...req.headers, host: this.target.host } },
          (up) => {
            if (isBulk) {
              const ids = body
                .toString('utf8')
                .split('\n')
                .filter((_, i) => i % 2 === 0)
                .filter((l) => l.length > 0)
                .map((l) => Object.values(JSON.parse(l) as Record<string, { _id: string }>)[0]?._id ?? '');
              this.bulks.push({ ids, status: up.statusCode ?? 0 });
            }
            res.writeHead(up.statusCode ?? 502, up.headers);
            up.pipe(res);
          },
        );
        upstream.on('error', () => {
          res.writeHead(502);
          res.end();
        });
        upstream.end(body);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    this.port = typeof address === 'object' && address ? address.port : 0;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
