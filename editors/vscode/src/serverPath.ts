// Finding the smallcoder-lsp executable: the setting, then the Python extension's active environment, then PATH.
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';

const EXE = process.platform === 'win32' ? 'smallcoder-lsp.exe' : 'smallcoder-lsp';

export type Located = { path: string; source: string } | { error: string };

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

interface PythonApi {
  environments?: { getActiveEnvironmentPath?(resource?: vscode.Uri): { path: string } | undefined };
}

/** The directory of the active interpreter of the ms-python extension, if it is installed. */
async function pythonEnvironmentDir(resource?: vscode.Uri): Promise<string | undefined> {
  const extension = vscode.extensions.getExtension<PythonApi>('ms-python.python');
  if (!extension) {
    return undefined;
  }
  try {
    const api = extension.isActive ? extension.exports : await extension.activate();
    const interpreter = api?.environments?.getActiveEnvironmentPath?.(resource)?.path;
    if (!interpreter) {
      return undefined;
    }
    // The path is the interpreter itself for venvs and conda, or the environment folder for some others.
    return isExecutable(interpreter) ? path.dirname(interpreter) : path.join(interpreter, 'bin');
  } catch {
    return undefined;
  }
}

function onPath(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, EXE);
    if (dir && isExecutable(candidate)) {
      return candidate;
    }
  }
  return undefined;
}

export async function locateServer(configured: string, resource?: vscode.Uri): Promise<Located> {
  if (configured) {
    return isExecutable(configured)
      ? { path: configured, source: 'smallcoder.serverPath' }
      : { error: `smallcoder.serverPath is "${configured}", which is not an executable file.` };
  }
  const envDir = await pythonEnvironmentDir(resource);
  if (envDir && isExecutable(path.join(envDir, EXE))) {
    return { path: path.join(envDir, EXE), source: 'the active Python environment' };
  }
  const found = onPath();
  if (found) {
    return { path: found, source: 'PATH' };
  }
  return {
    error:
      'smallcoder-lsp was not found (not in smallcoder.serverPath, the active Python environment, or PATH). ' +
      'Install it with `pip install smallcoder-lsp`, or set smallcoder.serverPath.',
  };
}
