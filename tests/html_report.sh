#!/usr/bin/env bash
# html_report.sh LUMEN - the static HTML report of `lumen qc`, rendered by headless Chromium:
# the frame rows, thumbnails and the per-class summary must be in the DOM after the page's
# script ran, and the page must not reach for the network. Chromium is a test dependency
# (setup.sh installs the Debian package 'chromium'): without it this test FAILS, it does not skip.
# A screenshot is left in $LUMEN_HTML_SHOT when that is set (to look at the page).
set -u
lumen=$1
. "$(dirname "$0")/testlib.sh"
cd "$(dirname "$0")/.." || exit 1

chromium=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$chromium" ]; then
  echo "FAIL chromium is not installed (apt-get install chromium; ./setup.sh installs it)"
  exit 1
fi

# 5 frames: 4 of series A and the corrupt one (an error row)
"$lumen" qc 'examples/data/seriesA_*.png' examples/data/corrupt_truncated.png --out "$tmp/r" \
  --quiet >"$tmp/qc.out" 2>&1
expect "qc exit code (one corrupt frame)" "$?" 1
html=$tmp/r/report.html
expect "report.html written" "$(test -s "$html" && echo yes)" yes
expect "no network resources in the page" "$(grep -ciE '(src|href)="(https?:)?//' "$html")" 0

chrome() { timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --no-first-run \
  --user-data-dir="$tmp/profile" "$@" 2>"$tmp/chrome.err"; }
chrome --dump-dom "file://$html" >"$tmp/dom.html"
expect "chromium rendered the page" "$?" 0
expect "5 frame rows in the DOM" "$(grep -o '<tr class="frame[^"]*"' "$tmp/dom.html" | wc -l)" 5
expect "1 error row" "$(grep -o '<tr class="frame error"' "$tmp/dom.html" | wc -l)" 1
expect "4 thumbnails linking to overlays" \
  "$(grep -oE '<a href="images/[^"]*_overlay.png"><img class="thumb" src="images/[^"]*_thumb.png"' "$tmp/dom.html" | wc -l)" 4
expect "summary table has the 4 classes + failed" \
  "$(sed -n '/<table class="summary">/,/<\/table>/p' "$tmp/dom.html" | grep -o '<tr><td>' | wc -l)" 5
expect "sortable headers" "$(grep -o '<th data-k=' "$tmp/dom.html" | wc -l)" 11
for f in $(grep -oE 'images/[^"]+\.png' "$html" | sort -u); do
  [ -s "$tmp/r/$f" ] || { echo "FAIL missing image $f"; fail=$((fail + 1)); }
done
shot=${LUMEN_HTML_SHOT:-$tmp/shot.png}
chrome --screenshot="$shot" --window-size=1400,1000 "file://$html" >/dev/null
expect "screenshot taken" "$(test -s "$shot" && echo yes)" yes
finish
