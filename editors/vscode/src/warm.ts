// Telling the server where the cursor came to rest (`smallcoder/warm`), so that it prefills the prompt there
// before the first key and the first suggestion there starts warm. VS Code's own code-action requests say where
// the cursor is, but not where new code begins: it asks for none while the cursor sits in whitespace (an empty
// line, or the indentation of one). Moves only (a key, the mouse, a command, another editor), not edits: while
// typing, the requests themselves say where the cursor is. VS Code reports a typed key as a keyboard move, so a
// move that comes with a new document version counts as an edit.
// This module is the decision only (no vscode import), so that it is tested with plain Node.
import { sameSpot, Spot } from './ready';

export const WARM = 'smallcoder/warm';
/** A move followed by this much stillness is a place the user may type at (as the Neovim plugin waits). */
export const REST_MS = 300;

export class RestingCursor {
  private timer?: ReturnType<typeof setTimeout>;
  private last?: Spot;

  /** `send` tells the server; `here` is where the user is now (undefined: no editor the server serves, or a
   * selection). */
  constructor(
    private readonly send: (spot: Spot) => void,
    private readonly here: () => Spot | undefined,
    private readonly restMs = REST_MS,
  ) {}

  /** The cursor went to `spot` (undefined: somewhere not to warm); `byUser` is false when VS Code says an edit
   * moved it. */
  moved(spot: Spot | undefined, byUser: boolean): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const edited = spot && this.last?.uri === spot.uri && this.last.version !== spot.version;
    this.last = spot ?? this.last;
    if (!spot || !byUser || edited) {
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const now = this.here();
      if (now && sameSpot(now, spot)) {
        this.send(spot);
      }
    }, this.restMs);
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
