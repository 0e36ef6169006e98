#!/usr/bin/env bash
# Installs code-server 4.100.3 (the VS Code 1.100.3 web build, the last one that runs on Node 20) and puppeteer-core
# into $1 using only the npm registry (one to two minutes, 370 MB). Its own install scripts would download ripgrep
# from GitHub, so they are skipped: Debian's rg stands in, and the native modules are rebuilt against the system
# Node headers. It builds in a folder beside $1 and renames it into place last, so $1 is whole or absent.
# Needs: apt-get install -y build-essential pkg-config libkrb5-dev libx11-dev libxkbfile-dev libsecret-1-dev ripgrep
set -euo pipefail
dest=${1:?usage: install_code_server.sh DEST}
entry=node_modules/code-server/out/node/entry.js
[ -f "$dest/$entry" ] && exit 0
mkdir -p "$(dirname "$dest")"
stage=$(mktemp -d "$dest.partial.XXXXXX")
trap 'rm -rf "$stage"' EXIT
# node-gyp would download the Node headers; Debian's and NodeSource's nodejs ship them.
[ -f /usr/include/node/node.h ] && export npm_config_nodedir=${npm_config_nodedir:-/usr}
npm_flags=(--ignore-scripts --no-audit --no-fund)
cd "$stage"
echo '{"private": true}' > package.json
npm install "${npm_flags[@]}" code-server@4.100.3 puppeteer-core@24.43.1
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
HOME="$stage/home" node "$entry" --version # a HOME of its own: it writes a config file there
rm -rf "$stage/home"
cd /
[ -f "$dest/$entry" ] && exit 0 # another run installed it meanwhile
[ -d "$dest/node_modules/code-server" ] && rm -rf "$dest" # unfinished, by an older version of this script
mv -T "$stage" "$dest"
