import { Position } from '@visitorbase/event-store';
import { VisitorFact } from '@visitorbase/users/domain';

/**
 * The aggregated user read model: one document per visitor plus the
 * projector's checkpoint. Every adapter passes
 * `test/contract/read-model.contract.ts`.
 */
export interface ReadModel {
  /** Position of the last event applied, or undefined before the first. */
  getCheckpoint(): Promise<Position | undefined>;
  /**
   * Folds `facts` (in log order) into their documents and records
   * `checkpoint`, in one write where the store allows it. A fact at or below a
   * document's last applied revision is a no-op, so redelivery is harmless.
   */
  apply(facts: readonly VisitorFact[], checkpoint: Position): Promise<void>;
  /** The GET /v2/users/:userId body, ready to send, or undefined. */
  findProfileJson(environment: string, userId: string): Promise<string | undefined>;
  close(): Promise<void>;
}

/** The read model could not be reached or failed; the caller may retry later. */
export class ReadModelUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ReadModelUnavailableError';
  }
}

export const READ_MODEL = Symbol('ReadModel');
