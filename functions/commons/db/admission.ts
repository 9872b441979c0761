/**
 * Admission to a pool's connections, in two classes. `write` transactions (appends, every mutation,
 * short lookups) go before `read` ones (snapshot reads: timeline pages, proofs, verification), so a
 * burst of readers, such as hundreds of subscribers catching up after a network blip, never makes a
 * writer wait behind it. Within a class the order is first come, first served.
 *
 * A caller waits at most `waitMs` for a slot; then it is refused with `AdmissionTimeout`, which the
 * pool reports as "busy", not as a database that went away (found by the full real-time drops run:
 * 500 subscribers' catch-up reads queued an append past pg-pool's 5 s wait, and it was refused as if
 * PostgreSQL were down).
 */
export type Priority = 'write' | 'read';

export class AdmissionTimeout extends Error {
  constructor(readonly waitedMs: number, readonly slots: number, readonly queued: number) {
    super(`no database connection was free within ${waitedMs} ms (${slots} in use, ${queued} waiting)`);
    this.name = 'AdmissionTimeout';
  }
}

interface Waiter {
  readonly grant: () => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

export class Admission {
  private inUse = 0;
  private readonly queues: Record<Priority, Waiter[]> = { write: [], read: [] };

  constructor(private readonly slots: number, private readonly waitMs: number) {}

  /** Resolves with a release function once a slot is the caller's. */
  acquire(priority: Priority): Promise<() => void> {
    if (this.inUse < this.slots && this.queues.write.length === 0 && (priority === 'write' || this.queues.read.length === 0)) {
      this.inUse += 1;
      return Promise.resolve(this.releaser());
    }
    return new Promise((resolve, reject) => {
      const queue = this.queues[priority];
      const waiter: Waiter = {
        grant: () => {
          clearTimeout(waiter.timer);
          resolve(this.releaser());
        },
        timer: setTimeout(() => {
          const error = new AdmissionTimeout(this.waitMs, this.inUse, this.queues.write.length + this.queues.read.length);
          queue.splice(queue.indexOf(waiter), 1);
          reject(error);
        }, this.waitMs),
      };
      queue.push(waiter);
    });
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // The slot passes straight to the next waiter (writers first), so it is never free in between.
      const next = this.queues.write.shift() ?? this.queues.read.shift();
      if (next) next.grant();
      else this.inUse -= 1;
    };
  }
}
