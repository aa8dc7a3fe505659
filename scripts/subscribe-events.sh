#!/usr/bin/env bash
# Creates or updates the Event Grid subscriptions that route storage events to the deployed
# functions (infra/app/event-subscriptions.bicep). Run after every code deploy: by azd as the
# service's `postdeploy` hook, and by .github/workflows/deploy.yml after its upload.
#
#   scripts/subscribe-events.sh [--app-dir dist/app]
#
# Reads (azd hands its environment to hooks; the workflow exports the same names):
#   AZURE_RESOURCE_GROUP, AZURE_FUNCTION_APP_NAME, AZURE_EVENTGRID_SYSTEM_TOPIC_NAME,
#   AZURE_STORAGE_ACCOUNT_NAME, AZURE_DEAD_LETTER_CONTAINER
# Needs the Azure CLI signed in (`az login`, or azure/login in the workflow).
#
# Why after the deploy: Event Grid validates a subscription's endpoint when it is created, so the
# function must be running. Why a key at all: a blob trigger with `source: EventGrid` receives
# its events on the host's blobs extension webhook, which accepts only the `blobs_extension`
# system key. The key is read here, handed to the deployment as a @secure parameter through a
# file only this user can read, and never printed or stored.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

die() {
  printf '\n*** subscribe-events.sh: %s ***\n\n' "$*" >&2
  exit 1
}

app_dir=dist/app
while (($#)); do
  case "$1" in
    --app-dir)
      [[ $# -ge 2 ]] || die "--app-dir needs a folder"
      app_dir="$2"
      shift
      ;;
    *) die "unknown argument $1 (usage: $0 [--app-dir dist/app])" ;;
  esac
  shift
done

for name in AZURE_RESOURCE_GROUP AZURE_FUNCTION_APP_NAME AZURE_EVENTGRID_SYSTEM_TOPIC_NAME \
  AZURE_STORAGE_ACCOUNT_NAME AZURE_DEAD_LETTER_CONTAINER; do
  [[ -n "${!name:-}" ]] || die "$name is not set: run through azd (azd deploy) or export the main.bicep outputs"
done
command -v az >/dev/null || die "the Azure CLI (az) is not on PATH"
[[ -f "$app_dir/host.json" ]] || die "$app_dir holds no package: run scripts/package.sh first"

# The functions in the package just deployed: its folders holding a function.json.
functions=()
blob_triggered=""
for function_json in "$app_dir"/*/function.json; do
  [[ -f "$function_json" ]] || continue
  name="$(basename "$(dirname "$function_json")")"
  [[ "$name" =~ ^[A-Za-z0-9_-]+$ ]] || die "unexpected function folder name: $name"
  functions+=("$name")
  grep -q '"blobTrigger"' "$function_json" && blob_triggered=1
done
((${#functions[@]})) || die "$app_dir has no function folders"
names_json="[$(printf '"%s",' "${functions[@]}")"
names_json="${names_json%,}]"

key=""
if [[ -n "$blob_triggered" ]]; then
  # The host creates the key when its blobs extension first starts, which can take a minute or
  # two after a fresh deploy: ask again until it exists (about 5 minutes at most).
  for attempt in $(seq 1 30); do
    key="$(az functionapp keys list --resource-group "$AZURE_RESOURCE_GROUP" --name "$AZURE_FUNCTION_APP_NAME" \
      --query 'systemKeys.blobs_extension' --output tsv 2>/dev/null || true)"
    [[ -n "$key" ]] && break
    echo "subscribe-events.sh: waiting for the host's blobs_extension key (attempt $attempt/30)" >&2
    sleep 10
  done
  [[ -n "$key" ]] || die "the function app has no blobs_extension key yet: is the deployed host running? (az functionapp log, Application Insights)"
  # Function keys are base64-like; anything else would corrupt the JSON written below.
  [[ "$key" =~ ^[A-Za-z0-9_=+/-]+$ ]] || die "the blobs_extension key has unexpected characters"
  if [[ "${GITHUB_ACTIONS:-}" == "true" ]]; then
    echo "::add-mask::$key"
  fi
fi

# The parameters go through a private file, not the command line, where other processes could
# read the key.
params_dir="$(mktemp -d)"
trap 'rm -rf "$params_dir"' EXIT
umask 077
cat >"$params_dir/parameters.json" <<JSON
{
  "\$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#",
  "contentVersion": "1.0.0.0",
  "parameters": {
    "systemTopicName": { "value": "$AZURE_EVENTGRID_SYSTEM_TOPIC_NAME" },
    "functionAppName": { "value": "$AZURE_FUNCTION_APP_NAME" },
    "functionNames": { "value": $names_json },
    "blobsExtensionKey": { "value": "$key" },
    "storageAccountName": { "value": "$AZURE_STORAGE_ACCOUNT_NAME" },
    "deadLetterContainerName": { "value": "$AZURE_DEAD_LETTER_CONTAINER" }
  }
}
JSON

echo "subscribe-events.sh: subscribing ${functions[*]} in $AZURE_RESOURCE_GROUP" >&2
az deployment group create \
  --resource-group "$AZURE_RESOURCE_GROUP" \
  --name shopsense-event-subscriptions \
  --template-file infra/app/event-subscriptions.bicep \
  --parameters "@$params_dir/parameters.json" \
  --query 'properties.outputs.subscribedFunctions.value' \
  --output tsv
