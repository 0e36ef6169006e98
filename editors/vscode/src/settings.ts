// The extension's settings. Everything under `smallcoder.` that package.json declares is the server's config,
// except the client-only keys below; the list of keys is read from package.json, so it is never kept twice.
import * as vscode from 'vscode';

export const SECTION = 'smallcoder';

/** Keys that configure the extension itself and are never sent to the server. */
export const CLIENT_ONLY = new Set(['serverPath', 'languages']);

type Settings = { [key: string]: unknown };

function declaredKeys(extension: vscode.Extension<unknown>): string[] {
  const json = extension.packageJSON as { contributes: { configuration: { properties: Settings } } };
  return Object.keys(json.contributes.configuration.properties).map((key) => key.slice(SECTION.length + 1));
}

/** The server's settings, nested by their dots: `completion.maxTokens` becomes `{completion: {maxTokens}}`. */
export function serverSettings(extension: vscode.Extension<unknown>): Settings {
  const config = vscode.workspace.getConfiguration(SECTION);
  const settings: Settings = {};
  for (const key of declaredKeys(extension)) {
    if (CLIENT_ONLY.has(key)) {
      continue;
    }
    const parts = key.split('.');
    let node = settings;
    for (const part of parts.slice(0, -1)) {
      node = (node[part] ??= {}) as Settings;
    }
    // A value of the wrong type goes through as is: the server reports it once and uses its default.
    node[parts[parts.length - 1]] = config.get(key);
  }
  return settings;
}

/** A client-only setting, or its default (with one warning) when it has the wrong type. */
export function clientSetting<T>(key: string, fallback: T, valid: (value: unknown) => boolean): T {
  const value = vscode.workspace.getConfiguration(SECTION).get<unknown>(key);
  if (value === undefined || value === null) {
    return fallback;
  }
  if (!valid(value)) {
    void vscode.window.showWarningMessage(
      `SmallCoder: the setting smallcoder.${key} has the wrong type (${JSON.stringify(value)}); using ${JSON.stringify(fallback)}.`,
    );
    return fallback;
  }
  return value as T;
}

export function languages(): string[] {
  const isStrings = (v: unknown) => Array.isArray(v) && v.every((s) => typeof s === 'string');
  return clientSetting<string[]>('languages', ['python'], isStrings);
}

export function serverPathSetting(): string {
  return clientSetting<string>('serverPath', '', (v) => typeof v === 'string');
}

/** Documents over this many bytes get no completion requests (`completion.maxFileBytes`). */
export function maxFileBytes(): number {
  const value = vscode.workspace.getConfiguration(SECTION).get<unknown>('completion.maxFileBytes');
  return typeof value === 'number' && value >= 1 ? value : 8_000_000;
}
