/**
 * A Kubernetes Service for the container walkthrough: run in a container that bears the Service's
 * name on the network, it listens on each Service port and forwards every connection to one of the
 * Service's pods at the target port, looked up by name each time (a replaced pod is found again).
 * Plain Node with erasable types only, so that the microbank image runs it as it is.
 * Usage: node service-forwarder.ts <port>=<pod>[,<pod>...]:<targetPort> ...
 */
import net from 'node:net';

interface Route {
  port: number;
  pods: string[];
  targetPort: number;
}

function parseRoute(spec: string): Route {
  const match = /^(\d+)=([^:]+):(\d+)$/.exec(spec);
  if (!match) throw new Error(`not a route: ${spec} (want <port>=<pod>[,<pod>...]:<targetPort>)`);
  return { port: Number(match[1]), pods: String(match[2]).split(','), targetPort: Number(match[3]) };
}

/** Round robin over the pods, passing over a pod that refuses, as kube-proxy passes over one not ready. */
function serve({ port, pods, targetPort }: Route): void {
  let next = 0;
  const connect = (client: net.Socket, tries: number) => {
    const pod = pods[next++ % pods.length] as string;
    const upstream = net.connect(targetPort, pod);
    let connected = false;
    upstream.once('connect', () => {
      connected = true;
      client.pipe(upstream).pipe(client);
      client.resume();
      client.once('close', () => upstream.destroy());
      upstream.once('close', () => client.destroy());
    });
    upstream.on('error', () => {
      if (!connected && tries > 1) connect(client, tries - 1);
      else client.destroy();
    });
  };
  const server = net.createServer({ pauseOnConnect: true }, (client) => {
    client.on('error', () => client.destroy());
    connect(client, pods.length);
  });
  server.listen(port, () => console.log(`forwarding :${port} to ${pods.join(', ')} on port ${targetPort}`));
}

process.on('SIGTERM', () => process.exit(0));
for (const spec of process.argv.slice(2)) serve(parseRoute(spec));
