// The language client: how the server is started, what it is sent, and what happens when it dies.
import * as vscode from 'vscode';
import {
  CloseAction,
  CloseHandlerResult,
  ErrorAction,
  ErrorHandler,
  ErrorHandlerResult,
  LanguageClient,
  LanguageClientOptions,
  ServerOptions,
  TransportKind,
} from 'vscode-languageclient/node';
import { ReadyPushes, Spot } from './ready';
import { maxFileBytes } from './settings';

/** Restarts allowed within RESTART_WINDOW_MS before the extension gives up and says so. */
export const MAX_RESTARTS = 3;
const RESTART_WINDOW_MS = 3 * 60 * 1000;

/** Restart a crashed server a bounded number of times, then stop and tell the user once. */
export class BoundedRestarts implements ErrorHandler {
  private crashes: number[] = [];

  constructor(private readonly onGiveUp: (message: string) => void) {}

  error(): ErrorHandlerResult {
    return { action: ErrorAction.Continue };
  }

  closed(): CloseHandlerResult {
    const now = Date.now();
    this.crashes = this.crashes.filter((t) => now - t < RESTART_WINDOW_MS).concat(now);
    if (this.crashes.length > MAX_RESTARTS) {
      this.onGiveUp(
        `the smallcoder-lsp server stopped ${this.crashes.length} times in a few minutes and will not be ` +
          'restarted again. The log has the reason; run "SmallCoder: Restart Server" once it is fixed.',
      );
      return { action: CloseAction.DoNotRestart, handled: true };
    }
    return { action: CloseAction.Restart, handled: true };
  }
}

/** Whether a document is small enough to send requests for (`completion.maxFileBytes`). */
export function withinSizeLimit(document: vscode.TextDocument): boolean {
  const limit = maxFileBytes();
  const text = document.getText();
  // A UTF-16 code unit is at most 3 UTF-8 bytes, so short documents skip the exact count.
  return text.length * 3 <= limit || Buffer.byteLength(text, 'utf8') <= limit;
}

/** Where a request is made, as `smallcoder/suggestionReady` names it. */
export function spotAt(document: vscode.TextDocument, position: vscode.Position): Spot {
  return { uri: document.uri.toString(), version: document.version, line: position.line, character: position.character };
}

export type DocumentFilters = { scheme: string; language: string }[];

/** The documents the server is sent: files and untitled buffers of the configured languages. */
export function documentSelector(languages: string[]): DocumentFilters {
  return languages.flatMap((language) => [
    { scheme: 'file', language },
    { scheme: 'untitled', language },
  ]);
}

export interface ClientParts {
  serverPath: string;
  served: DocumentFilters;
  settings: object;
  output: vscode.LogOutputChannel;
  errorHandler: ErrorHandler;
  afterInlineCompletion: () => void;
  pushes: ReadyPushes;
}

export function createClient(parts: ClientParts): LanguageClient {
  const serverOptions: ServerOptions = {
    command: parts.serverPath,
    args: ['serve'],
    transport: TransportKind.stdio,
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: parts.served,
    initializationOptions: parts.settings,
    outputChannel: parts.output,
    errorHandler: parts.errorHandler,
    middleware: {
      provideInlineCompletionItems: async (document, position, context, token, next) => {
        if (!withinSizeLimit(document)) {
          return undefined;
        }
        // The trigger command that a ready notification runs makes an explicit request. Send it as automatic:
        // the server then answers from the decode it already has, where an invoked request starts a new one.
        const pushed = parts.pushes.take(spotAt(document, position));
        const automatic = vscode.InlineCompletionTriggerKind.Automatic;
        const asked = pushed ? { ...context, triggerKind: automatic } : context;
        const result = await next(document, position, asked, token);
        parts.afterInlineCompletion();
        return result;
      },
      // Ghost text is the main path in VS Code. An automatic suggest list would hide it (and cost a second
      // model call per keystroke), so the list items come only when asked for (Ctrl+Space).
      provideCompletionItem: (document, position, context, token, next) => {
        if (context.triggerKind !== vscode.CompletionTriggerKind.Invoke || !withinSizeLimit(document)) {
          return undefined;
        }
        return next(document, position, context, token);
      },
    },
  };
  const client = new LanguageClient('smallcoder', 'SmallCoder', serverOptions, clientOptions);
  client.registerProposedFeatures();
  return client;
}
