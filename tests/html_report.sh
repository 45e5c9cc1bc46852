#!/usr/bin/env bash
# html_report.sh LUMEN - the static HTML report of `lumen qc`, rendered by headless Chromium at
# 1366 px wide: the weights banner, provenance, the series section (first, with verdicts,
# thumbnail strips and SVG probability plots), the score histogram, the frame rows, thumbnails
# and the per-class summary must be in the DOM after the page's script ran; the page must fit
# 1366 px without horizontal scrolling and must not reach for the network. Chromium is a test
# dependency (setup.sh installs the Debian package 'chromium'): without it this test FAILS, it
# does not skip. The screenshot (1366 px wide) is left in $LUMEN_HTML_SHOT when that is set,
# else in the build folder's html_report.png, and its path is printed.
set -u
lumen=$1
. "$(dirname "$0")/testlib.sh"
cd "$(dirname "$0")/.." || exit 1

chromium=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$chromium" ]; then
  echo "FAIL chromium is not installed (apt-get install chromium; ./setup.sh installs it)"
  exit 1
fi

# 9 frames: series A and B (4 each) and the corrupt one (an error row, a series of its own)
"$lumen" qc 'examples/data/seriesA_*.png' 'examples/data/seriesB_*.png' \
  examples/data/corrupt_truncated.png --out "$tmp/r" --series-pattern '^(series%a+)_' \
  --quiet >"$tmp/qc.out" 2>&1
expect "qc exit code (one corrupt frame)" "$?" 1
html=$tmp/r/report.html
expect "report.html written" "$(test -s "$html" && echo yes)" yes
expect "no network resources in the page" "$(grep -ciE '(src|href)="(https?:)?//' "$html")" 0

chrome() { timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --no-first-run \
  --user-data-dir="$tmp/profile" --window-size=1366,1000 "$@" 2>"$tmp/chrome.err"; }
chrome --dump-dom "file://$html" >"$tmp/dom.html"
expect "chromium rendered the page" "$?" 0
expect "weights banner at the top" \
  "$(grep -A1 '<body>' "$tmp/dom.html" | grep -o '<div class="banner" id="notice">NOTICE: SYNTHETIC weights' | wc -l)" 1
expect "provenance: version, weights hash, device, precision, command" \
  "$(grep -cE '<td>lumen</td>.*<td>weights sha256</td><td>[0-9a-f]{64}</td>.*<td>device</td>.*<td>precision</td><td>fp32</td>.*<td>command</td><td>lumen qc ' "$tmp/dom.html")" 1
expect "the series section comes before the frames" \
  "$(grep -n '<h2>' "$tmp/dom.html" | head -1 | grep -c Series)" 1
expect "3 series rows" "$(grep -o '<tr class="series">' "$tmp/dom.html" | wc -l)" 3
expect "verdict badges" "$(grep -oE '<span class="verdict v-(keep|repeat)">' "$tmp/dom.html" | wc -l)" 3
expect "thumbnail strips: 8 frames + 1 failed" \
  "$(grep -oE '<a class="(ok|bad)" href="#f[0-9]+"[^>]*><img src="images/' "$tmp/dom.html" | wc -l) $(grep -o '<a class="err"' "$tmp/dom.html" | wc -l)" "8 1"
expect "a probability plot per series with frames" \
  "$(grep -o '<svg class="plot"' "$tmp/dom.html" | wc -l)" 3
expect "score histogram" "$(grep -o '<rect class="bin"' "$tmp/dom.html" | wc -l)" 10
expect "9 frame rows in the DOM" "$(grep -o '<tr class="frame[^"]*"' "$tmp/dom.html" | wc -l)" 9
expect "1 error row" "$(grep -o '<tr class="frame error"' "$tmp/dom.html" | wc -l)" 1
expect "8 thumbnails linking to overlays" \
  "$(grep -oE '<a href="images/[^"]*_overlay.png"><img class="thumb" src="images/[^"]*_thumb.png"' "$tmp/dom.html" | wc -l)" 8
n=$(grep -o '<span class="flag" title="predicted class is not acceptable (acceptable: diagnostic)">nondiagnostic</span><span class="why">' "$tmp/dom.html" | wc -l)
expect "flags carry their reason text" "$([ "$n" -ge 1 ] && echo yes || echo "no ($n)")" yes
expect "overlay legend" "$(grep -c 'Overlay legend' "$tmp/dom.html")" 1
expect "summary table has the 4 classes + failed" \
  "$(sed -n '/<table class="summary">/,/<\/table>/p' "$tmp/dom.html" | grep -o '<tr><td>' | wc -l)" 5
expect "sortable headers" "$(grep -o '<th data-k=' "$tmp/dom.html" | wc -l)" 12
for f in $(grep -oE 'images/[^"]+\.png' "$html" | sort -u); do
  [ -s "$tmp/r/$f" ] || bad "missing image $f"
done
# the page's width at 1366 px: a copy with a script that writes scrollWidth into the title
sed 's|</body>|<script>document.title = "W" + document.documentElement.scrollWidth;</script></body>|' \
  "$html" >"$tmp/r/width.html"
chrome --dump-dom "file://$tmp/r/width.html" >"$tmp/width.dom"
width=$(grep -oE '<title>W[0-9]+' "$tmp/width.dom" | grep -oE '[0-9]+')
expect "fits 1366 px (no horizontal scrolling)" "$([ -n "$width" ] && [ "$width" -le 1366 ] && echo yes || echo "no: ${width:-?} px")" yes
shot=${LUMEN_HTML_SHOT:-$PWD/build/html_report.png}
[ -d "$(dirname "$shot")" ] || shot=$tmp/shot.png
chrome --screenshot="$shot" --window-size=1366,2200 --hide-scrollbars "file://$html" >/dev/null
expect "screenshot taken at 1366 px wide" "$(test -s "$shot" && echo yes)" yes
echo "screenshot: $shot"
finish
