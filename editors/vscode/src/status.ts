// The status bar item: loading / ready (backend and the last time to first token) / error; a click shows the log.
import * as vscode from 'vscode';

/** The payload of `smallcoder/status` and `smallcoder/statusChanged`. */
export interface ServerStatus {
  state: 'loading' | 'ready' | 'error';
  backend?: string;
  model?: string;
  message?: string;
  version?: string;
  lastCompletion?: { first_token_s?: number | null } | null;
}

export class StatusItem implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('smallcoder.status', vscode.StatusBarAlignment.Right, 100);
  private last?: ServerStatus;
  private enabled = true;

  constructor(showLogCommand: string) {
    this.item.name = 'SmallCoder';
    this.item.command = showLogCommand;
    this.item.show();
  }

  starting(message: string): void {
    this.show('$(loading~spin) SmallCoder', message);
  }

  failed(message: string): void {
    this.last = undefined;
    this.show('$(error) SmallCoder', `${message}\n\nClick to show the log.`, true);
  }

  setEnabled(enabled: boolean): void {
    this.enabled = enabled;
    if (this.last) {
      this.update(this.last);
    }
  }

  update(status: ServerStatus): void {
    this.last = status;
    const about = [status.message, status.backend && `backend: ${status.backend}`, status.model && `model: ${status.model}`]
      .filter(Boolean)
      .join('\n');
    if (status.state === 'loading') {
      this.show('$(loading~spin) SmallCoder', about);
    } else if (status.state === 'error') {
      this.show('$(error) SmallCoder', `${about}\n\nClick to show the log.`, true);
    } else {
      const seconds = status.lastCompletion?.first_token_s;
      const latency = typeof seconds === 'number' ? ` ${Math.round(seconds * 1000)} ms` : '';
      const icon = this.enabled ? '$(sparkle)' : '$(circle-slash)';
      const off = this.enabled ? '' : ' (completions off)';
      this.show(`${icon} SmallCoder ${status.backend ?? ''}${latency}${off}`, about);
    }
  }

  private show(text: string, tooltip: string, error = false): void {
    this.item.text = text.trim();
    this.item.tooltip = tooltip;
    this.item.backgroundColor = error ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
  }

  dispose(): void {
    this.item.dispose();
  }
}
