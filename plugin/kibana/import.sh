#!/usr/bin/env sh
# Imports the kontext saved objects into Kibana (same as `kontext kibana`).
# Usage: KIBANA_URL=http://localhost:5601 plugin/kibana/import.sh [--overwrite]
# Optional: KIBANA_SPACE=<space id>, KIBANA_API_KEY=<base64 id:key> or KIBANA_USERNAME/KIBANA_PASSWORD,
#           KONTEXT_INDEX_PREFIX=<prefix> (data view on <prefix>-contexts*; default kontext),
#           KONTEXT_UI_URL=<kontext web UI URL> (context ids link there; default http://localhost:8080).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
url=${KIBANA_URL:-http://localhost:5601}
url=${url%/}
overwrite=false
for arg in "$@"; do
  case "$arg" in
    --overwrite) overwrite=true ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "import.sh: unknown argument $arg" >&2; exit 2 ;;
  esac
done
path=/api/saved_objects/_import
if [ -n "${KIBANA_SPACE:-}" ]; then path="/s/${KIBANA_SPACE}${path}"; fi
file="$here/saved-objects.ndjson"
prefix=${KONTEXT_INDEX_PREFIX:-kontext}
ui=${KONTEXT_UI_URL:-http://localhost:8080}
ui=${ui%/}
case "$ui" in http://*|https://*) ;; *) echo "import.sh: KONTEXT_UI_URL must be an http(s) URL" >&2; exit 2 ;; esac
if [ "$prefix" != kontext ] || [ "$ui" != http://localhost:8080 ]; then
  tmp=$(mktemp)
  trap 'rm -f "$tmp"' EXIT
  # the data view's context links are the only place the UI URL appears
  sed -e "s/\"title\":\"kontext-contexts\*\"/\"title\":\"${prefix}-contexts*\"/" \
      -e "s#http://localhost:8080/context/#${ui}/context/#g" "$file" > "$tmp"
  file=$tmp
fi
set -- -sS -X POST "${url}${path}?overwrite=${overwrite}" -H 'kbn-xsrf: kontext' --form "file=@${file};filename=kontext-saved-objects.ndjson"
if [ -n "${KIBANA_API_KEY:-}" ]; then set -- "$@" -H "Authorization: ApiKey ${KIBANA_API_KEY}"
elif [ -n "${KIBANA_USERNAME:-}" ]; then set -- "$@" -u "${KIBANA_USERNAME}:${KIBANA_PASSWORD:-}"; fi
out=$(curl -w '\n%{http_code}' "$@") || { echo "import.sh: cannot reach Kibana at $url" >&2; exit 1; }
code=$(printf '%s' "$out" | tail -n 1)
body=$(printf '%s' "$out" | sed '$d')
echo "$body"
case "$code" in
  200) printf '%s' "$body" | grep -q '"success":true' || { echo "import.sh: some objects failed (see errors above; --overwrite replaces existing ones)" >&2; exit 1; } ;;
  *) echo "import.sh: Kibana answered HTTP $code" >&2; exit 1 ;;
esac
