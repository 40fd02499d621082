#!/usr/bin/env bash
# Runs ONE job on this machine as a just-in-time (JIT) GitHub Actions runner, then exits.
# systemd (runners/github-runner@.service) starts it again after every job, so each job gets a
# fresh registration and a clean work directory, and no registration outlives its job.
#
# Credentials: a GitHub App. Each start signs a 9-minute JWT with the App's private key, trades
# it for a 1-hour installation token, and uses that once to ask for a single-use runner
# configuration. No personal token is ever stored on the machine. The App needs, on the
# repository, "Administration: read and write" (organization runners: "Self-hosted runners:
# read and write"). See runners/README.md.
#
# Settings (environment; systemd reads them from /etc/github-runner/<instance>.env):
#   GITHUB_REPOSITORY    owner/repo the runner serves, or
#   GITHUB_ORG           an organization, for an organization-level runner
#   GITHUB_APP_ID        the App's id (or client id)
#   GITHUB_APP_KEY_FILE  the App's private key (PEM), readable only by the runner's user
#   GITHUB_API_URL       default https://api.github.com (GHES: https://HOST/api/v3)
#   RUNNER_DIR           where the actions runner is unpacked (default /opt/actions-runner)
#   RUNNER_LABELS        comma-separated (default self-hosted,linux,x64,gpu)
#   RUNNER_GROUP_ID      runner group id (default 1, the default group)
#   RUNNER_NAME          name prefix (default: the host name); a timestamp keeps names unique
# Needs: bash, curl, openssl, jq.
set -euo pipefail

API=${GITHUB_API_URL:-https://api.github.com}
RUNNER_DIR=${RUNNER_DIR:-/opt/actions-runner}
LABELS=${RUNNER_LABELS:-self-hosted,linux,x64,gpu}
GROUP_ID=${RUNNER_GROUP_ID:-1}
NAME="${RUNNER_NAME:-$(uname -n)}-$(date -u +%Y%m%d%H%M%S)"

fail() {
  echo "register.sh: $*" >&2
  exit 1
}

for tool in curl openssl jq; do
  command -v "$tool" >/dev/null || fail "$tool is not installed (apt-get install $tool)"
done
[[ -n ${GITHUB_APP_ID:-} ]] || fail "GITHUB_APP_ID is not set"
[[ -r ${GITHUB_APP_KEY_FILE:-} ]] || fail "GITHUB_APP_KEY_FILE '${GITHUB_APP_KEY_FILE:-}' is not a readable file"
[[ -x $RUNNER_DIR/run.sh ]] || fail "no actions runner in RUNNER_DIR '$RUNNER_DIR' (run.sh missing)"
if [[ -n ${GITHUB_REPOSITORY:-} ]]; then
  [[ $GITHUB_REPOSITORY =~ ^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$ ]] || fail "GITHUB_REPOSITORY '$GITHUB_REPOSITORY' is not owner/repo"
  SCOPE="repos/$GITHUB_REPOSITORY"
elif [[ -n ${GITHUB_ORG:-} ]]; then
  [[ $GITHUB_ORG =~ ^[A-Za-z0-9_.-]+$ ]] || fail "GITHUB_ORG '$GITHUB_ORG' is not an organization name"
  SCOPE="orgs/$GITHUB_ORG"
else
  fail "set GITHUB_REPOSITORY (owner/repo) or GITHUB_ORG"
fi

base64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }

app_jwt() {
  local now header payload
  now=$(date +%s)
  header=$(printf '{"alg":"RS256","typ":"JWT"}' | base64url)
  # Back-dated 60 s against clock skew; GitHub accepts at most 10 minutes of validity.
  payload=$(jq -cn --arg iss "$GITHUB_APP_ID" --argjson now "$now" \
    '{iat: ($now - 60), exp: ($now + 540), iss: $iss}' | base64url)
  printf '%s.%s.%s' "$header" "$payload" \
    "$(printf '%s.%s' "$header" "$payload" | openssl dgst -sha256 -sign "$GITHUB_APP_KEY_FILE" | base64url)"
}

# api METHOD PATH AUTHORIZATION [JSON_BODY]: prints the response body; fails on non-2xx.
api() {
  local method=$1 path=$2 auth=$3 body=${4:-} response status
  response=$(mktemp)
  status=$(curl -sS -o "$response" -w '%{http_code}' -X "$method" \
    -H "Authorization: $auth" -H "Accept: application/vnd.github+json" \
    -H "X-GitHub-Api-Version: 2022-11-28" ${body:+-H "Content-Type: application/json" --data "$body"} \
    "$API/$path") || { rm -f "$response"; fail "$method $API/$path: no answer"; }
  if [[ $status != 2* ]]; then
    local message
    message=$(jq -r '.message? // empty' "$response" 2>/dev/null || true)
    rm -f "$response"
    fail "$method $API/$path answered HTTP $status${message:+: $message}"
  fi
  cat "$response"
  rm -f "$response"
}

jwt=$(app_jwt)
installation=$(api GET "$SCOPE/installation" "Bearer $jwt" | jq -r .id)
token=$(api POST "app/installations/$installation/access_tokens" "Bearer $jwt" | jq -r .token)
request=$(jq -cn --arg name "$NAME" --arg labels "$LABELS" --argjson group "$GROUP_ID" \
  '{name: $name, runner_group_id: $group, labels: ($labels | split(",")), work_folder: "_work"}')
jitconfig=$(api POST "$SCOPE/actions/runners/generate-jitconfig" "Bearer $token" "$request" |
  jq -r .encoded_jit_config)
[[ -n $jitconfig && $jitconfig != null ]] || fail "generate-jitconfig returned no encoded_jit_config"
unset jwt token

# A job may leave files behind; the next job starts from an empty work directory.
rm -rf -- "${RUNNER_DIR:?}/_work"
echo "register.sh: registered just-in-time runner $NAME ($LABELS); waiting for one job"
cd "$RUNNER_DIR"
exec ./run.sh --jitconfig "$jitconfig"
