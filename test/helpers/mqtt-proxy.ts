// A TCP proxy between a device and its broker, for network faults the broker cannot fake:
// cut connections without a DISCONNECT (power loss: the broker publishes the will), refuse
// new ones (an outage), hold the broker's replies (PUBACKs that never come). It works below
// TLS, so the device still verifies the real broker's certificate.
import net from 'node:net';

interface Pipe {
  client: net.Socket;
  upstream: net.Socket;
  /** The broker's bytes kept back while held; lost if the connection dies meanwhile. */
  held: Buffer[];
}

export type ProxyMode = 'forward' | 'refuse' | 'blackhole';

export class MqttProxy {
  /** When each connection was accepted (ms, performance.now()), refused ones included. */
  readonly accepted: number[] = [];
  private readonly pipes = new Set<Pipe>();
  private mode: ProxyMode = 'forward';
  private held = false;

  private constructor(private readonly server: net.Server, private readonly target: { host: string; port: number }) {}

  static async start(targetPort: number, targetHost = '127.0.0.1'): Promise<MqttProxy> {
    const server = net.createServer();
    const proxy = new MqttProxy(server, { host: targetHost, port: targetPort });
    server.on('connection', (s) => proxy.accept(s));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  get connections(): number {
    return this.pipes.size;
  }

  /** forward: normal; refuse: close new connections at once; blackhole: accept, never answer. */
  setMode(mode: ProxyMode): void {
    this.mode = mode;
  }

  /** Destroys every open connection (both sides see a reset, nobody a DISCONNECT). */
  cut(): void {
    for (const p of this.pipes) {
      p.client.destroy();
      p.upstream.destroy();
    }
    this.pipes.clear();
  }

  /** Stops passing the broker's bytes to the device (PUBACKs, pings) until release(). */
  hold(): void {
    // Keep reading the broker (so its FIN or RST still ends the connection) but keep the bytes.
    this.held = true;
  }

  release(): void {
    this.held = false;
    for (const p of this.pipes) for (const chunk of p.held.splice(0)) p.client.write(chunk);
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise((r) => this.server.close(r));
  }

  private accept(client: net.Socket): void {
    this.accepted.push(performance.now());
    client.on('error', () => undefined);
    if (this.mode === 'refuse') {
      client.destroy();
      return;
    }
    if (this.mode === 'blackhole') {
      client.pause();
      const idle: Pipe = { client, upstream: new net.Socket(), held: [] };
      this.pipes.add(idle);
      client.once('close', () => this.pipes.delete(idle));
      return;
    }
    const upstream = net.connect(this.target.port, this.target.host);
    upstream.on('error', () => undefined);
    const pipe: Pipe = { client, upstream, held: [] };
    this.pipes.add(pipe);
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => (this.held ? pipe.held.push(chunk) : client.write(chunk)));
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      this.pipes.delete(pipe);
    };
    client.once('close', end);
    upstream.once('close', end);
  }
}
