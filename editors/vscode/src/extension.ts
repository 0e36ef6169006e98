// Entry point: starts the server, keeps its settings in sync, and offers the SmallCoder commands.
import * as vscode from 'vscode';
import { DidChangeConfigurationNotification, ExecuteCommandRequest, LanguageClient } from 'vscode-languageclient/node';
import { BoundedRestarts, createClient, documentSelector, spotAt, withinSizeLimit } from './client';
import { ReadyPushes, Spot, SUGGESTION_READY } from './ready';
import { locateServer } from './serverPath';
import { languages, SECTION, serverPathSetting, serverSettings } from './settings';
import { ServerStatus, StatusItem } from './status';
import { RestingCursor, WARM } from './warm';

const SHOW_LOG = 'smallcoder.showLog';
/** Settings that need a new server process rather than a didChangeConfiguration. */
const RESTART_KEYS = ['serverPath', 'languages'];

class Extension {
  private client?: LanguageClient;
  private readonly output = vscode.window.createOutputChannel('SmallCoder', { log: true });
  private readonly status = new StatusItem(SHOW_LOG);
  private statusRefresh?: NodeJS.Timeout;
  private readonly pushes = new ReadyPushes();
  /** The documents the running client serves (a change of `languages` starts a new client). */
  private served = documentSelector([]);
  private readonly resting = new RestingCursor(
    (spot) => this.warm(spot),
    () => this.servedSpot(vscode.window.activeTextEditor),
  );

  constructor(private readonly extension: vscode.Extension<unknown>) {}

  async start(): Promise<void> {
    this.status.setEnabled(vscode.workspace.getConfiguration(SECTION).get('completion.enabled') !== false);
    this.status.starting('Starting the smallcoder-lsp server');
    const located = await locateServer(serverPathSetting(), vscode.window.activeTextEditor?.document.uri);
    if ('error' in located) {
      this.fail(located.error);
      return;
    }
    this.output.appendLine(`Starting ${located.path} serve (found in ${located.source})`);
    this.served = documentSelector(languages());
    const client = createClient({
      serverPath: located.path,
      served: this.served,
      settings: serverSettings(this.extension),
      output: this.output,
      errorHandler: new BoundedRestarts((message) => this.fail(message)),
      afterInlineCompletion: () => this.refreshStatusSoon(),
      pushes: this.pushes,
    });
    client.onNotification('smallcoder/statusChanged', (status: ServerStatus) => this.status.update(status));
    client.onNotification(SUGGESTION_READY, (params: unknown) => this.onSuggestionReady(params));
    this.client = client;
    try {
      await client.start();
    } catch (error) {
      this.fail(`the smallcoder-lsp server at ${located.path} did not start: ${describe(error)}`);
      return;
    }
    this.refreshStatusSoon(0);
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client) {
      try {
        await client.stop(5000);
      } catch (error) {
        this.output.appendLine(`Stopping the server: ${describe(error)}`);
      }
    }
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  private fail(message: string): void {
    this.output.appendLine(`Error: ${message}`);
    this.status.failed(message);
    void vscode.window.showErrorMessage(`SmallCoder: ${message}`, 'Show Log', 'Open Settings').then((choice) => {
      if (choice === 'Show Log') {
        this.output.show(true);
      } else if (choice === 'Open Settings') {
        void vscode.commands.executeCommand('workbench.action.openSettings', SECTION);
      }
    });
  }

  /** Ask the server for its status (last latency included) shortly after a completion. */
  private refreshStatusSoon(delayMs = 300): void {
    clearTimeout(this.statusRefresh);
    this.statusRefresh = setTimeout(() => {
      const client = this.client;
      if (client?.isRunning()) {
        client.sendRequest<ServerStatus>('smallcoder/status', {}).then(
          (status) => this.status.update(status),
          (error) => this.output.appendLine(`smallcoder/status failed: ${describe(error)}`),
        );
      }
    }, delayMs);
  }

  /** The server has the suggestion an earlier request went without: ask VS Code again if the user is there. */
  private onSuggestionReady(params: unknown): void {
    const editor = vscode.window.activeTextEditor;
    const here = editor?.selection.isEmpty ? spotAt(editor.document, editor.selection.active) : undefined;
    if (here && this.pushes.accept(params, here)) {
      this.output.debug(`suggestion ready at ${here.line + 1}:${here.character + 1}; asking VS Code for it`);
      void vscode.commands.executeCommand('editor.action.inlineSuggest.trigger');
    }
  }

  /** Where the cursor is in `editor`, if the server serves its document and nothing is selected. */
  private servedSpot(editor: vscode.TextEditor | undefined): Spot | undefined {
    if (!editor?.selection.isEmpty || !this.client?.isRunning()) {
      return undefined;
    }
    const { document } = editor;
    return vscode.languages.match(this.served, document)
      ? spotAt(document, editor.selection.active)
      : undefined;
  }

  /** The user moved the cursor, or went to another editor: once it rests, the server warms the prompt there. */
  onCursorMoved(editor: vscode.TextEditor | undefined, kind?: vscode.TextEditorSelectionChangeKind): void {
    const byUser = kind !== undefined; // undefined: an edit moved it (typing, an accepted suggestion)
    this.resting.moved(editor === vscode.window.activeTextEditor ? this.servedSpot(editor) : undefined, byUser);
  }

  private warm(spot: Spot): void {
    const client = this.client;
    const document = vscode.window.activeTextEditor?.document;
    if (client?.isRunning() && document && withinSizeLimit(document)) {
      const position = { line: spot.line, character: spot.character }; // UTF-16, as negotiated
      this.output.debug(`cursor at rest at ${spot.line + 1}:${spot.character + 1}; the server warms there`);
      client.sendNotification(WARM, { textDocument: { uri: spot.uri }, position }).catch((error) => {
        this.output.debug(`${WARM} not sent: ${describe(error)}`);
      });
    }
  }

  async onConfigurationChanged(event: vscode.ConfigurationChangeEvent): Promise<void> {
    if (!event.affectsConfiguration(SECTION)) {
      return;
    }
    if (RESTART_KEYS.some((key) => event.affectsConfiguration(`${SECTION}.${key}`))) {
      await this.restart();
      return;
    }
    this.status.setEnabled(vscode.workspace.getConfiguration(SECTION).get('completion.enabled') !== false);
    if (this.client?.isRunning()) {
      await this.client.sendNotification(DidChangeConfigurationNotification.type, {
        settings: serverSettings(this.extension),
      });
    }
  }

  async generateDocstring(): Promise<void> {
    const editor = vscode.window.activeTextEditor;
    const client = this.client;
    if (!editor || !client?.isRunning()) {
      void vscode.window.showErrorMessage('SmallCoder: Generate Docstring needs an open editor and a running server.');
      return;
    }
    const args = {
      uri: editor.document.uri.toString(),
      position: client.code2ProtocolConverter.asPosition(editor.selection.active),
    };
    try {
      const result = await client.sendRequest(ExecuteCommandRequest.type, {
        command: 'smallcoder.generateDocstring',
        arguments: [args],
      });
      // The server may answer with the edit, or apply it itself through workspace/applyEdit.
      if (result && typeof result === 'object' && ('changes' in result || 'documentChanges' in result)) {
        const edit = await client.protocol2CodeConverter.asWorkspaceEdit(result);
        if (edit) {
          await vscode.workspace.applyEdit(edit);
        }
      }
    } catch (error) {
      void vscode.window.showErrorMessage(`SmallCoder: Generate Docstring failed: ${describe(error)}`);
    }
  }

  async toggleCompletions(): Promise<void> {
    const config = vscode.workspace.getConfiguration(SECTION);
    const enabled = config.get('completion.enabled') !== false;
    const inspected = config.inspect('completion.enabled');
    const target =
      inspected?.workspaceValue !== undefined
        ? vscode.ConfigurationTarget.Workspace
        : vscode.ConfigurationTarget.Global;
    await config.update('completion.enabled', !enabled, target);
    vscode.window.setStatusBarMessage(`SmallCoder completions ${enabled ? 'off' : 'on'}`, 3000);
  }

  showLog(): void {
    this.output.show(true);
  }

  dispose(): void {
    clearTimeout(this.statusRefresh);
    this.resting.dispose();
    this.status.dispose();
    this.output.dispose();
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

let current: Extension | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const extension = new Extension(context.extension);
  current = extension;
  context.subscriptions.push(
    extension,
    vscode.commands.registerCommand('smallcoder.docstring', () => extension.generateDocstring()),
    vscode.commands.registerCommand('smallcoder.restartServer', () => extension.restart()),
    vscode.commands.registerCommand(SHOW_LOG, () => extension.showLog()),
    vscode.commands.registerCommand('smallcoder.toggleCompletions', () => extension.toggleCompletions()),
    vscode.workspace.onDidChangeConfiguration((event) => extension.onConfigurationChanged(event)),
    vscode.window.onDidChangeTextEditorSelection((event) => extension.onCursorMoved(event.textEditor, event.kind)),
    vscode.window.onDidChangeActiveTextEditor((editor) =>
      extension.onCursorMoved(editor, vscode.TextEditorSelectionChangeKind.Command),
    ),
  );
  await extension.start();
}

export async function deactivate(): Promise<void> {
  await current?.stop();
}
