/**
 * The primary's questions to its workers (`StateChannel.ask`): each question goes to every
 * running worker with an id, and resolves once each of them answered, exited, or the
 * timeout passed, with the answers that came.
 */
import type { JsonValue, WorkerAnswer } from '../state-channel';

interface Question {
  /** Worker slot ids still to answer. */
  waiting: Set<number>;
  answers: WorkerAnswer[];
  timer: NodeJS.Timeout;
  resolve(answers: WorkerAnswer[]): void;
}

export class WorkerQuestions {
  readonly #open = new Map<number, Question>();
  #nextId = 1;

  /** Sends a new question id through `send` to each of `workers` (slot ids) and gathers the answers. */
  ask(workers: readonly number[], timeoutMs: number, send: (workerId: number, id: number) => void): Promise<WorkerAnswer[]> {
    if (workers.length === 0) return Promise.resolve([]);
    const id = this.#nextId++;
    return new Promise<WorkerAnswer[]>((resolve) => {
      const q: Question = { waiting: new Set(workers), answers: [], resolve, timer: setTimeout(() => this.#settle(id), timeoutMs) };
      q.timer.unref();
      this.#open.set(id, q);
      for (const w of workers) send(w, id);
    });
  }

  /** Worker `workerId` (process `pid`) answered question `id` (`payload` undefined: it had nothing to say). */
  answered(id: number, workerId: number, pid: number, payload: JsonValue | undefined): void {
    const q = this.#open.get(id);
    if (q === undefined || !q.waiting.delete(workerId)) return;
    if (payload !== undefined) q.answers.push({ workerId, pid, payload });
    if (q.waiting.size === 0) this.#settle(id);
  }

  /** Worker `workerId` will not answer (it exited, or a message to it was lost). */
  gone(workerId: number): void {
    for (const [id, q] of this.#open) if (q.waiting.delete(workerId) && q.waiting.size === 0) this.#settle(id);
  }

  #settle(id: number): void {
    const q = this.#open.get(id);
    if (q === undefined) return;
    this.#open.delete(id);
    clearTimeout(q.timer);
    q.answers.sort((a, b) => a.workerId - b.workerId);
    q.resolve(q.answers);
  }
}
