// Acting on the server's `smallcoder/suggestionReady` notification. The server holds an automatic inline
// request until it has a suggestion, but answers it without one when its cap (completion.holdMs) passes or VS
// Code cancels it, and VS Code treats that answer as final for the document version. When the suggestion is
// ready later, the server says so; if the user is still there we ask VS Code to request again.
// This module is the decision only (no vscode import), so that it is tested with plain Node.

export const SUGGESTION_READY = 'smallcoder/suggestionReady';

/** The params of `smallcoder/suggestionReady`: the position is in the negotiated encoding (UTF-16 here). */
export interface SuggestionReady {
  uri: string;
  version: number;
  position: { line: number; character: number };
}

/** Where the user is: the active editor's document, its version, and the cursor (an empty selection). */
export interface Spot {
  uri: string;
  version: number;
  line: number;
  character: number;
}

function isReadyParams(value: unknown): value is SuggestionReady {
  const ready = value as SuggestionReady | undefined;
  return (
    typeof ready?.uri === 'string' &&
    typeof ready.version === 'number' &&
    typeof ready.position?.line === 'number' &&
    typeof ready.position?.character === 'number'
  );
}

/** The same document, version and position. */
export function sameSpot(a: Spot, b: Spot): boolean {
  return a.uri === b.uri && a.version === b.version && a.line === b.line && a.character === b.character;
}

/** The notifications acted on, until VS Code's request that they caused. */
export class ReadyPushes {
  private pending?: Spot;

  /** Whether to ask VS Code again: the notification is about `here` (undefined: no editor, or a selection). */
  accept(params: unknown, here: Spot | undefined): boolean {
    if (!here || !isReadyParams(params)) {
      return false;
    }
    const ready = { uri: params.uri, version: params.version, ...params.position };
    if (!sameSpot(ready, here)) {
      return false;
    }
    this.pending = ready;
    return true;
  }

  /** Whether a request at `spot` is the one a notification caused (once: it is forgotten here). */
  take(spot: Spot): boolean {
    const pending = this.pending;
    if (pending && sameSpot(pending, spot)) {
      this.pending = undefined;
      return true;
    }
    return false;
  }
}
