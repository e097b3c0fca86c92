import { ConsumerSupervisor, tenantConnectionSchema, type KafkaClient, type KafkaConsumer, type Logger, type TenantConnection } from '../runtime/index.ts';

/**
 * Membership in the pollers' consumer group on m365.tenants: the partitions an instance is assigned are the
 * tenants it polls. The topic is compacted connection state, so assigned partitions are always read from the
 * beginning (no committed offsets): a taken-over partition yields every organization in it.
 * Events are delivered in order through one queue: assignment changes first, then connection values.
 */
export interface AssignmentHandlers {
  /** Called with the full new assignment; `added` and `revoked` are relative to the previous one. */
  onAssignment(change: { assigned: number[]; added: number[]; revoked: number[] }): Promise<void>;
  /** A connection value (null = organization deleted) from an assigned partition. */
  onConnection(orgId: string, partition: number, connection: TenantConnection | null): Promise<void>;
  /** A value that does not parse: reported, never fatal. */
  onInvalid(orgId: string, partition: number, problem: string): void;
}

export class TenantAssignment {
  private supervisor: ConsumerSupervisor | null = null;
  private assigned = new Set<number>();
  private queue: Promise<void> = Promise.resolve();
  private joinedOnce = false;
  private joinWaiters: Array<() => void> = [];

  constructor(
    private readonly kafka: KafkaClient,
    private readonly topic: string,
    private readonly groupId: string,
    private readonly sessionTimeoutMs: number,
    private readonly logger: Logger,
    private readonly handlers: AssignmentHandlers,
  ) {}

  get partitions(): number[] {
    return [...this.assigned].sort((a, b) => a - b);
  }

  get joined(): boolean {
    return this.joinedOnce;
  }

  /** Resolves after the first group join has been handled. */
  waitForJoin(): Promise<void> {
    if (this.joinedOnce) return Promise.resolve();
    return new Promise((resolve) => this.joinWaiters.push(resolve));
  }

  private enqueue(step: () => Promise<void>): Promise<void> {
    const next = this.queue.then(step).catch((error: unknown) => {
      this.logger.error({ err: error }, 'tenant assignment step failed');
    });
    this.queue = next;
    return next;
  }

  /** Null while the consumer runs; otherwise why not (a stopped consumer is restarted with backoff). */
  readiness(): string | null {
    return this.supervisor?.readiness() ?? null;
  }

  async start(): Promise<void> {
    this.supervisor = new ConsumerSupervisor({
      name: `${this.topic} consumer`,
      logger: this.logger,
      create: () => this.createConsumer(),
      run: (consumer) => this.runConsumer(consumer),
    });
    await this.supervisor.start();
  }

  private createConsumer(): KafkaConsumer {
    const consumer = this.kafka.consumer({
      groupId: this.groupId,
      sessionTimeoutMs: this.sessionTimeoutMs,
      heartbeatIntervalMs: Math.max(500, Math.floor(this.sessionTimeoutMs / 10)),
      rebalanceTimeoutMs: Math.max(this.sessionTimeoutMs, 10_000),
    });
    consumer.onAssigned((assignment) => {
      const mine = (assignment[this.topic] ?? []).slice().sort((a, b) => a - b);
      void this.enqueue(async () => {
        const next = new Set(mine);
        const added = mine.filter((p) => !this.assigned.has(p));
        const revoked = [...this.assigned].filter((p) => !next.has(p));
        this.assigned = next;
        this.logger.info({ partitions: mine, added, revoked }, 'tenant partitions assigned');
        await this.handlers.onAssignment({ assigned: mine, added, revoked });
        this.joinedOnce = true;
        for (const w of this.joinWaiters.splice(0)) w();
      });
    });
    return consumer;
  }

  private async runConsumer(consumer: KafkaConsumer): Promise<void> {
    await consumer.connect();
    await consumer.subscribe({ topic: this.topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        const orgId = message.key?.toString();
        if (!orgId) return;
        await this.enqueue(async () => {
          if (!this.assigned.has(partition)) return;
          if (message.value === null) return this.handlers.onConnection(orgId, partition, null);
          let parsed;
          try {
            parsed = tenantConnectionSchema.safeParse(JSON.parse(message.value.toString()));
          } catch {
            return this.handlers.onInvalid(orgId, partition, 'value is not JSON');
          }
          if (!parsed.success)
            return this.handlers.onInvalid(
              orgId,
              partition,
              parsed.error.issues
                .slice(0, 3)
                .map((i) => `${i.path.join('.')}: ${i.message}`)
                .join('; '),
            );
          return this.handlers.onConnection(orgId, partition, parsed.data);
        });
      },
    });
  }

  /** Leaves the group (the remaining instances take the partitions over). */
  async close(): Promise<void> {
    const supervisor = this.supervisor;
    this.supervisor = null;
    if (supervisor) await supervisor.close().catch(() => undefined);
    await this.queue;
  }
}
