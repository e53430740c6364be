#!/usr/bin/env bash
# Rebuild src/skelgnn/resources/three.min.js (three.js + OrbitControls, one minified IIFE defining
# the global THREE) and its licence notice from the versions pinned in package.json. Needs npm;
# the viewer itself needs nothing at run time (the bundle is inlined into each HTML file).
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --ignore-scripts 2>/dev/null || npm install --no-audit --no-fund --ignore-scripts
out=../../src/skelgnn/resources
version=$(node -p "require('./node_modules/three/package.json').version")
./node_modules/.bin/esbuild entry.js --bundle --minify --format=iife --global-name=THREE \
  --legal-comments=none --target=es2020 \
  --banner:js="/* three.js ${version} (https://threejs.org), MIT licence: three.LICENSE.txt. Bundled by vendor/three/build.sh. */" \
  --outfile="$out/three.min.js"
{ echo "three.js ${version} -- bundled into three.min.js (with examples/jsm/controls/OrbitControls.js)"; echo; cat node_modules/three/LICENSE; } > "$out/three.LICENSE.txt"
ls -l "$out/three.min.js" "$out/three.LICENSE.txt"
