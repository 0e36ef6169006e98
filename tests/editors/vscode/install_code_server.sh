#!/usr/bin/env bash
# Installs code-server 4.100.3 (the VS Code 1.100.3 web build, the last one that runs on Node 20) into $1 using
# only the npm registry. Its own install scripts would download ripgrep from GitHub, so they are skipped:
# Debian's rg stands in, and the native modules are rebuilt against the system Node headers.
# Needs: apt-get install -y build-essential pkg-config libkrb5-dev libx11-dev libxkbfile-dev libsecret-1-dev ripgrep
set -euo pipefail
dest=${1:?usage: install_code_server.sh DEST}
npm_flags=(--ignore-scripts --no-audit --no-fund)
mkdir -p "$dest"
cd "$dest"
[ -f package.json ] || echo '{"private": true}' > package.json
npm install "${npm_flags[@]}" code-server@4.100.3 puppeteer-core@24
vscode=node_modules/code-server/lib/vscode
(cd "$vscode" && npm install --omit=dev "${npm_flags[@]}")
mkdir -p "$vscode/node_modules/@vscode/ripgrep/bin"
cp "$(command -v rg)" "$vscode/node_modules/@vscode/ripgrep/bin/rg"
(cd "$vscode" && npm_config_yes=true npm rebuild kerberos @parcel/watcher node-pty @vscode/spdlog @vscode/deviceid native-watchdog)
# What code-server's postinstall would have done:
ln -sfn node_modules "$vscode/node_modules.asar"
ln -sf code-linux.sh "$vscode/bin/remote-cli/code-server"
ln -sf browser-linux.sh "$vscode/bin/helpers/browser.sh"
(cd "$vscode/extensions" && npm install --omit=dev "${npm_flags[@]}")
npm_config_yes=true npm rebuild argon2
node node_modules/code-server/out/node/entry.js --version
