"""Offline checks of the deployment: the Bicep, azure.yaml, the workflows and the scripts.

Run by infra/tests/run.sh, which pins the tools and sets SHOPSENSE_BIN. The real Bicep compiler
cannot be installed offline, so the Bicep is parsed with pycep-parser (syntax) and its structure
is checked here against what the code itself reports (`shopsense config --json`): the settings
it reads and the triggers it routes. Nothing is skipped: a missing tool or binary is a failure.

pycep gives identifiers and string literals alike as Python strings, so where the difference
matters (a setting's value is the literal 'managedidentity', not a variable) the source text is
checked as well.
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from pycep import BicepParser

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
MAIN = INFRA / "main.bicep"
FUNCTION_APP = INFRA / "app" / "function-app.bicep"
EVENT_SUBSCRIPTIONS = INFRA / "app" / "event-subscriptions.bicep"
DEAD_LETTER_ACCESS = INFRA / "app" / "dead-letter-access.bicep"
BLOB_TRIGGER_SUBSCRIPTION = INFRA / "app" / "blob-trigger-subscription.bicep"
ALERTS = INFRA / "app" / "alerts.bicep"
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
OUR_SCRIPTS = [REPO / "scripts" / "package.sh", REPO / "scripts" / "subscribe-events.sh", INFRA / "tests" / "run.sh"]


def bicep_files() -> list[Path]:
    return sorted(p for p in INFRA.rglob("*.bicep") if ".venv" not in p.parts)


# --------------------------------------------------------------------------------------------
# What the code says: settings it reads, functions it routes and their triggers.
# --------------------------------------------------------------------------------------------

# Settings the code reads that Azure must NOT set, each with the reason. Anything else in
# READ_SETTINGS has to be set by the Bicep.
NOT_SET_IN_AZURE = {
    "SHOPSENSE_HOME": "roots the local backends; the Azure backend keeps no local state",
    "FUNCTIONS_CUSTOMHANDLER_PORT": "set by the Functions host itself when it starts the handler",
    "AzureWebJobsStorage": "connection-string form (keys); Azure uses the AzureWebJobsStorage__* identity form",
    "ShopsenseStorage": "connection-string form (keys or SAS), for the emulators only",
    "ShopsenseCosmos": "connection-string form (account key), for the emulators only",
    "SHOPSENSE_BLOB_CONTAINER_PREFIX": "prefixes container names so tests can share an account; the Bicep creates the unprefixed containers",
}

# Tuning settings the code reads with a default of its own: the Bicep sets them only to change
# that default. A new setting the code reads must land in one of these lists or in the Bicep.
HAS_CODE_DEFAULT = {
    "INGEST_QUARANTINE_WARN": "ingest verdict threshold (shared/src/ingest/report.rs)",
    "INGEST_QUARANTINE_FAIL": "ingest verdict threshold (shared/src/ingest/report.rs)",
    "INGEST_STALE_WARN_DAYS": "ingest verdict threshold (shared/src/ingest/report.rs)",
    "INGEST_GAP_WARN_DAYS": "ingest verdict threshold (shared/src/ingest/report.rs)",
    "INGEST_DUPLICATE_WARN": "ingest verdict threshold (shared/src/ingest/report.rs)",
    "INGEST_MAX_TABLE_BYTES": "largest decompressed upload accepted (functions/src/state.rs)",
    "SHOPSENSE_KEEP_VERSIONS": "model versions kept per kind (functions/src/state.rs)",
    "SHOPSENSE_SERVING_POINTER_TTL_SECONDS": "how long serving trusts its cached live pointer (functions/src/state.rs)",
    "SHOPSENSE_DRIFT_PSI_THRESHOLD": "drift flag threshold (shared/src/registry/drift.rs)",
    "SHOPSENSE_GATE_RECOMMEND_NDCG_VS_LIVE": "promotion gate (shared/src/registry/gate.rs)",
    "SHOPSENSE_GATE_FORECAST_WAPE_VS_LIVE": "promotion gate (shared/src/registry/gate.rs)",
    "SHOPSENSE_GATE_SEGMENTS_SILHOUETTE_VS_LIVE": "promotion gate (shared/src/registry/gate.rs)",
    "SHOPSENSE_GATE_SEGMENTS_MIN_SILHOUETTE": "promotion gate (shared/src/registry/gate.rs)",
    "SHOPSENSE_GATE_MAX_STALE_DAYS": "promotion gate (shared/src/registry/gate.rs)",
    "SHOPSENSE_STALE_MODEL_DAYS": "when answers warn that a live model lags the newest sales (shared/src/serving/freshness.rs)",
    "SHOPSENSE_ALERT_LEAD_TIME_DAYS": "alert policy default (functions/src/state.rs)",
    "SHOPSENSE_ALERT_SERVICE_LEVEL": "alert policy default (functions/src/state.rs)",
    "SHOPSENSE_ALERT_COVER_DAYS": "alert policy default (functions/src/state.rs)",
    "SHOPSENSE_ALERT_OVERSTOCK_COVER_DAYS": "alert policy default (functions/src/state.rs)",
    "SHOPSENSE_ALERTS_KEEP_DAYS": "days a judged inventory count is kept (shared/src/alerts/retention.rs)",
}

# Settings the code accepts as an alternative to another one; one of each pair suffices.
ALTERNATIVE_TO = {
    "ShopsenseStorage__serviceUri": "ShopsenseStorage__blobServiceUri",
}

# Settings prefixes that are ours: everything the Bicep sets under them must be known.
OUR_PREFIXES = ("Shopsense", "SHOPSENSE_")

# The identity-based forms of AzureWebJobsStorage the Functions host understands.
HOST_STORAGE_SUFFIXES = {"accountName", "blobServiceUri", "queueServiceUri", "tableServiceUri", "credential", "clientId"}

# Settings that must never appear: connection strings with keys, and settings Flex
# Consumption rejects or ignores (the runtime is in functionAppConfig, the package is deployed
# from blob storage by the platform).
FORBIDDEN_SETTINGS = {
    "AzureWebJobsStorage",
    "ShopsenseStorage",
    "ShopsenseCosmos",
    "AzureWebJobsDashboard",
    "APPINSIGHTS_INSTRUMENTATIONKEY",
    "FUNCTIONS_WORKER_RUNTIME",
    "FUNCTIONS_EXTENSION_VERSION",
    "WEBSITE_RUN_FROM_PACKAGE",
    "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
    "DEPLOYMENT_STORAGE_CONNECTION_STRING",
}


@functools.cache
def code_config() -> dict[str, Any]:
    """`shopsense config --json` from the build under test, in an empty folder and environment
    so no local.settings.json or developer setting leaks in."""
    binary = os.environ.get("SHOPSENSE_BIN")
    assert binary, "SHOPSENSE_BIN is not set: run the checks through infra/tests/run.sh"
    assert Path(binary).is_file(), f"SHOPSENSE_BIN={binary} does not exist: build with cargo build -p shopsense-functions"
    with tempfile.TemporaryDirectory() as cwd:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": cwd, "RUST_LOG": "error"}
        result = subprocess.run(
            [binary, "--backend", "local", "config", "--json"],
            cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False,
        )
    assert result.returncode == 0, f"shopsense config --json failed:\n{result.stderr}"
    config = json.loads(result.stdout)
    for field in ("functions", "triggers", "read_settings"):
        assert field in config, f"shopsense config --json has no {field!r}: {sorted(config)}"
    return config


def host_read_settings(triggers: dict[str, Any]) -> set[str]:
    """Settings under our prefixes that the Functions host (not our code) reads for a binding:
    a blob trigger on an identity-based connection also needs the queue endpoint (poison queue)."""
    found = set()
    for trigger in triggers.values():
        if trigger and trigger.get("type") == "blobTrigger":
            found.add(f"{trigger['connection']}__queueServiceUri")
    return found


def settings_problems(read: list[str], set_keys: set[str], host_read: set[str]) -> list[str]:
    """What is wrong between the settings the code reads and those the Bicep sets."""
    problems = []
    for name in NOT_SET_IN_AZURE:
        if name not in read:
            problems.append(f"{name} is listed as not set in Azure but the code no longer reads it: drop it from the list")
    for name in [*ALTERNATIVE_TO, *HAS_CODE_DEFAULT]:
        if name not in read:
            problems.append(f"{name} is listed in infra/tests but the code no longer reads it: drop it from the list")
    for name in read:
        if name in NOT_SET_IN_AZURE:
            if name in set_keys:
                problems.append(f"{name} must not be set in Azure: {NOT_SET_IN_AZURE[name]}")
            continue
        if name in HAS_CODE_DEFAULT:
            continue
        if name in ALTERNATIVE_TO and ALTERNATIVE_TO[name] in set_keys:
            continue
        if name not in set_keys:
            problems.append(
                f"the code reads {name} but the Bicep does not set it: set it in infra/app/function-app.bicep, "
                "or list it in infra/tests/test_infra.py (NOT_SET_IN_AZURE / HAS_CODE_DEFAULT) with the reason"
            )
    for name in sorted(host_read - set_keys):
        problems.append(f"the host reads {name} for a trigger binding but the Bicep does not set it")
    host = {key.split("__", 1)[1] for key in set_keys if key.startswith("AzureWebJobsStorage__")}
    endpoints = "accountName" in host or {"blobServiceUri", "queueServiceUri"} <= host
    if not ({"credential", "clientId"} <= host and endpoints):
        problems.append(
            "the host's own storage needs identity-based AzureWebJobsStorage__credential, __clientId and "
            "__accountName (or __blobServiceUri and __queueServiceUri)"
        )
    known = set(read) | host_read
    for key in sorted(set_keys):
        if key.startswith(OUR_PREFIXES) and key not in known:
            problems.append(f"the Bicep sets {key}, which neither the code nor the host reads")
        if key.startswith("AzureWebJobsStorage__") and key.split("__", 1)[1] not in HOST_STORAGE_SUFFIXES:
            problems.append(f"{key} is not an identity-based AzureWebJobsStorage setting the host knows")
        if key in FORBIDDEN_SETTINGS:
            problems.append(f"{key} must not be set: connection strings carry keys, and Flex rejects runtime/package settings")
    return problems


# --------------------------------------------------------------------------------------------
# What the Bicep says.
# --------------------------------------------------------------------------------------------


@functools.cache
def bicep(path: Path) -> dict[str, Any]:
    parsed = BicepParser().parse(file_path=path)
    # pycep leaves out the sections a file does not have.
    for section in ("parameters", "variables", "resources", "modules", "outputs"):
        parsed.setdefault(section, {})
    return parsed


def unquote(key: str) -> str:
    return key[1:-1] if len(key) >= 2 and key[0] == key[-1] == "'" else key


def module(path: Path, name: str) -> dict[str, Any]:
    """A module's `config` (name, scope, params), looking through an `if (...)` condition."""
    modules = bicep(path)["modules"]
    assert name in modules, f"{path.name} has no module {name!r}: {sorted(modules)}"
    config = modules[name]["config"]
    return config["config"] if "condition" in config else config


def module_params(path: Path, name: str) -> dict[str, Any]:
    return module(path, name)["params"]


def registry_modules() -> list[tuple[Path, str, dict[str, Any]]]:
    found = []
    for path in bicep_files():
        for name, mod in bicep(path).get("modules", {}).items():
            if mod["type"] == "bicep_registry_alias":
                found.append((path, name, mod["detail"]))
    return found


def avm_module(path: Path, avm_path: str) -> dict[str, Any]:
    """The params of the one module in `path` that uses `avm_path`."""
    matches = [
        name for name, mod in bicep(path).get("modules", {}).items()
        if mod["type"] == "bicep_registry_alias" and mod["detail"]["path"] == avm_path
    ]
    assert len(matches) == 1, f"{path.name}: expected one {avm_path} module, found {matches}"
    return module_params(path, matches[0])


def app_settings() -> dict[str, Any]:
    variables = bicep(FUNCTION_APP)["variables"]
    assert "appSettings" in variables, "function-app.bicep must hold the app settings in `var appSettings`"
    return {unquote(k): v for k, v in variables["appSettings"]["value"].items()}


def dotted(expr: Any) -> str:
    """`a.b.c` for a property-access expression, the identifier itself for a plain name."""
    if isinstance(expr, str):
        return expr
    operator = expr.get("operator", {}) if isinstance(expr, dict) else {}
    if operator.get("type") == "property_accessor":
        operands = operator["operands"]
        return f"{dotted(operands['operand_1'])}.{dotted(operands['operand_2'])}"
    return json.dumps(expr, sort_keys=True)


def literal_value(path: Path, key: str) -> str | None:
    """The string literal assigned to `key:` in the source text, if it is a literal."""
    match = re.search(rf"^\s*'?{re.escape(key)}'?\s*:\s*'([^']*)'\s*$", path.read_text(), re.MULTILINE)
    return match.group(1) if match else None


def conditioned_function(mod: dict[str, Any]) -> str | None:
    """For `module x ... = if (contains(functionNames, 'f'))`, the function name 'f'."""
    condition = mod["config"].get("condition")
    if not condition:
        return None
    call = condition.get("function", {})
    params = call.get("parameters", {})
    if call.get("type") == "contains" and params.get("container") == "functionNames":
        return params.get("item_to_find")
    return None


def param_default(path: Path, name: str) -> Any:
    params = bicep(path)["parameters"]
    assert name in params, f"{path.name} has no parameter {name}"
    return params[name]["default"]


# --------------------------------------------------------------------------------------------
# Secrets: the scanner and its patterns.
# --------------------------------------------------------------------------------------------

SECRET_PATTERNS = {
    r"\blistKeys\b": "listKeys() reads account keys",
    r"\blistConnectionStrings\b": "listConnectionStrings() reads keys",
    r"\blistSecrets\b": "listSecrets() reads secrets",
    r"AccountKey\s*=": "a connection string with an account key",
    r"SharedAccessKey\s*=": "a connection string with a shared access key",
    r"SharedAccessSignature\s*=": "a SAS token",
    r"DefaultEndpointsProtocol\s*=": "a storage connection string",
    r"StorageAccountConnectionString": "deployment storage authenticated by connection string",
    r"outputs\.(primary|secondary)\w*(Key|ConnectionString)\b": "a module output holding a key",
    r"outputs\.instrumentationKey\b": "the instrumentation key (use the connection string with Entra auth)",
    r"\bAPPINSIGHTS_INSTRUMENTATIONKEY\b": "instrumentation-key telemetry (local auth)",
    r"client-secret|clientSecret|AZURE_CREDENTIALS": "a client secret (the workflow signs in with OIDC)",
}


def secret_findings(text: str) -> list[str]:
    findings = []
    for number, line in enumerate(text.splitlines(), 1):
        for pattern, why in SECRET_PATTERNS.items():
            if re.search(pattern, line):
                findings.append(f"line {number}: {why}: {line.strip()}")
    return findings


def deployment_files() -> list[Path]:
    files = bicep_files() + sorted(INFRA.glob("*.json")) + [REPO / "azure.yaml"] + WORKFLOWS + OUR_SCRIPTS[:2]
    return [f for f in files if f.is_file()]


# ============================================================================================
# The checks
# ============================================================================================


def test_the_infra_folder_holds_the_expected_bicep_files():
    names = {str(p.relative_to(INFRA)) for p in bicep_files()}
    assert {"main.bicep", "app/function-app.bicep", "app/event-subscriptions.bicep",
            "app/blob-trigger-subscription.bicep", "app/dead-letter-access.bicep", "app/alerts.bicep"} <= names, names


@pytest.mark.parametrize("path", bicep_files(), ids=lambda p: str(p.relative_to(INFRA)))
def test_every_bicep_file_parses(path: Path):
    parsed = bicep(path)
    assert parsed.get("parameters") or parsed.get("resources") or parsed.get("modules"), f"{path} declares nothing"


@pytest.mark.parametrize("path", bicep_files(), ids=lambda p: str(p.relative_to(INFRA)))
def test_every_parameter_has_a_description(path: Path):
    missing = [
        name for name, param in bicep(path)["parameters"].items()
        if not any(d.get("type") == "description" and str(d.get("argument", "")).strip() for d in param["decorators"])
    ]
    assert not missing, f"{path.name}: parameters without @description: {missing}"


@pytest.mark.parametrize("path", deployment_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_no_key_or_connection_string_anywhere(path: Path):
    findings = secret_findings(path.read_text())
    assert not findings, f"{path.relative_to(REPO)}:\n" + "\n".join(findings)


def test_the_one_key_in_play_only_travels_through_a_secure_parameter():
    # The blobs extension webhook accepts nothing but the host's blobs_extension key. It may only
    # enter a template as a @secure() parameter, so it never lands in deployment history.
    for path in bicep_files():
        text = path.read_text()
        for match in re.finditer(r"code=\$\{(?:uriComponent\()?(\w+)", text):
            name = match.group(1)
            decorators = bicep(path)["parameters"].get(name, {}).get("decorators", [])
            assert any(d.get("type") == "secure" for d in decorators), f"{path.name}: code={name} must be a @secure() parameter"
        for name, param in bicep(path)["parameters"].items():
            if "key" in name.lower():
                assert any(d.get("type") == "secure" for d in param["decorators"]), f"{path.name}: {name} must be @secure()"


def test_storage_cosmos_and_monitoring_accept_entra_id_only():
    storage = avm_module(MAIN, "avm/res/storage/storage-account")
    assert storage["allowSharedKeyAccess"] is False
    assert storage["defaultToOAuthAuthentication"] is True
    assert storage["allowBlobPublicAccess"] is False
    cosmos = avm_module(MAIN, "avm/res/document-db/database-account")
    assert cosmos["disableLocalAuthentication"] is True
    assert cosmos["disableKeyBasedMetadataWriteAccess"] is True
    assert cosmos["capabilitiesToAdd"] == ["EnableServerless"]
    insights = avm_module(MAIN, "avm/res/insights/component")
    assert insights["disableLocalAuth"] is True
    workspace = avm_module(MAIN, "avm/res/operational-insights/workspace")
    assert workspace["features"]["disableLocalAuth"] is True
    text = MAIN.read_text()
    assert re.search(r"^\s*allowSharedKeyAccess:\s*false\s*$", text, re.MULTILINE)
    assert re.search(r"^\s*disableLocalAuth(entication)?:\s*true\s*$", text, re.MULTILINE)


def test_the_app_runs_the_custom_handler_on_flex_consumption_from_an_identity_authenticated_package():
    plan = avm_module(MAIN, "avm/res/web/serverfarm")
    assert plan["skuName"] == "FC1" and plan["reserved"] is True
    site = avm_module(FUNCTION_APP, "avm/res/web/site")
    assert site["kind"] == "functionapp,linux"
    config = site["functionAppConfig"]
    assert config["runtime"] == {"name": "custom", "version": "1.0"}
    storage = config["deployment"]["storage"]
    assert storage["type"] == "blobContainer"
    assert storage["authentication"]["type"] == "UserAssignedIdentity"
    assert storage["authentication"]["userAssignedIdentityResourceId"] == "identityResourceId"
    scale = config["scaleAndConcurrency"]
    assert scale == {"instanceMemoryMB": "instanceMemoryMB", "maximumInstanceCount": "maximumInstanceCount"}
    main_params = bicep(MAIN)["parameters"]
    assert {"instanceMemoryMB", "maximumInstanceCount"} <= set(main_params), "both are main.bicep parameters"
    assert site["managedIdentities"]["userAssignedResourceIds"] == ["identityResourceId"]
    assert site["managedIdentities"]["systemAssigned"] is False
    assert {p["name"]: p["allow"] for p in site["basicPublishingCredentialsPolicies"]} == {"scm": False, "ftp": False}
    assert site["configs"] == [{"name": "appsettings", "properties": "appSettings", "retainCurrentAppSettings": False}]
    # host.json starts the executable the package ships.
    host = json.loads((REPO / "host.json").read_text())
    assert host["customHandler"]["description"]["defaultExecutablePath"] == "shopsense"


def test_browser_origins_come_from_a_parameter_without_credentials():
    site = avm_module(FUNCTION_APP, "avm/res/web/site")
    assert site["siteConfig"]["cors"] == {"allowedOrigins": "corsAllowedOrigins", "supportCredentials": False}
    assert bicep(MAIN)["parameters"]["corsAllowedOrigins"]["default"] == "", "none unless the shop lists some"
    parameters = json.loads((REPO / "infra/main.parameters.json").read_text())["parameters"]
    assert parameters["corsAllowedOrigins"]["value"] == "${SHOPSENSE_CORS_ALLOWED_ORIGINS=}"


def test_alert_rules_watch_the_functions_and_log_lines_the_code_has():
    text = ALERTS.read_text()
    rules = bicep(ALERTS)["variables"]["rules"]["value"]
    names = {unquote(rule["name"]) for rule in rules}
    assert names == {
        "retrain-failed", "retrain-cannot-train", "retrain-rejected", "retrain-took-out", "ingest-gave-up"
    }, names
    functions = set(code_config()["functions"])
    for function in re.findall(r'operation_Name == "([^"]+)"', text):
        assert function in functions, f"alerts.bicep watches {function!r}, which the app does not serve"
    # The permanent-failure prefix is the code's constant, and a failed invocation's next run
    # (the retry policy's longest wait, as the host computes it without jitter, then up to the
    # 30-minute function timeout) ends before the 50 minutes the rule waits.
    retrain = (REPO / "functions/src/retrain.rs").read_text()
    (prefix,) = re.findall(r'pub const FAILED: &str = "([^"]+)";', retrain)
    assert f'message startswith "{prefix}"' in text
    retry = json.loads((REPO / "functions/bindings/retrain/function.json").read_text())["retry"]
    assert retry["strategy"] == "exponentialBackoff"
    def minutes(span: str) -> float:
        h, m, sec = (int(x) for x in span.split(":"))
        return h * 60 + m + sec / 60
    least, most = minutes(retry["minimumInterval"]), minutes(retry["maximumInterval"])
    waits = [min(least + (least * 2 ** (n - 1) if n else 0), most) for n in range(retry["maxRetryCount"])]
    assert waits == [3, 6, 9, 15], waits
    timeout = minutes(json.loads((REPO / "host.json").read_text())["functionTimeout"])
    assert max(waits) * 1.2 + timeout < 50 and "ended < ago(50m)" in text, (waits, timeout)
    # A rejected version logs "<kind> <version>: rejected (...)" (functions/src/retrain.rs).
    assert re.search(r'"\{\} \{\}: \{\}\{\}",\s*k\.kind,\s*k\.version,\s*k\.status,', retrain)
    # A version taken out of serving is retired with a reason starting "retired: no ...": the
    # kind's missing input (shared/src/train/inputs.rs `missing_for`) ...
    train = (REPO / "shared/src/train/mod.rs").read_text()
    inputs = (REPO / "shared/src/train/inputs.rs").read_text()
    assert '"retired: {missing} (the uploads' in train
    # ... or, when the version trained on what is left was rejected, "retired: no upload ..."
    # (`take_out_unreplaced`), printed on a line of its own by the retrain.
    assert '"retired: no upload it was trained on still counts ({}); {rejected}' in train
    assert 'format!("{} {}: retired ({})", k.kind, t.version, t.reason)' in retrain
    assert set(re.findall(r'"(no [^"]+ remains?)"', inputs)) == {
        "no sale with a customer id remains", "no sales remain", "no customer's sales remain"
    }
    assert r'message matches regex @"^[a-z]+ \S+: retired \(retired: no "' in text
    assert 'Self::Rejected => "rejected"' in (REPO / "shared/src/registry/records.rs").read_text()
    # Mail only when an address is given; the rules exist either way.
    assert bicep(ALERTS)["parameters"]["alertEmail"]["default"] == ""
    assert "if (!empty(alertEmail))" in text
    assert dotted(module_params(MAIN, "alerts")["appInsightsResourceId"]) == "appInsights.outputs.resourceId"
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert parameters["alertEmail"]["value"] == "${SHOPSENSE_ALERT_EMAIL=}"


def test_app_settings_are_identity_based_only():
    settings = app_settings()
    assert not FORBIDDEN_SETTINGS & set(settings), FORBIDDEN_SETTINGS & set(settings)
    connections = {key.split("__", 1)[0] for key in settings if "__" in key}
    assert connections == {"AzureWebJobsStorage", "ShopsenseStorage", "ShopsenseCosmos"}, connections
    for connection in connections:
        assert literal_value(FUNCTION_APP, f"{connection}__credential") == "managedidentity", connection
        assert settings.get(f"{connection}__clientId") == "identityClientId", f"{connection}__clientId is the identity's"
    auth = literal_value(FUNCTION_APP, "APPLICATIONINSIGHTS_AUTHENTICATION_STRING")
    assert auth == "ClientId=${identityClientId};Authorization=AAD", auth
    assert literal_value(FUNCTION_APP, "SHOPSENSE_BACKEND") == "azure"


def test_every_setting_the_code_reads_is_set_and_nothing_under_our_prefixes_is_unknown():
    config = code_config()
    problems = settings_problems(config["read_settings"], set(app_settings()), host_read_settings(config["triggers"]))
    assert not problems, "\n".join(problems)


def test_the_cosmos_database_setting_names_the_database_the_bicep_creates():
    assert app_settings()["SHOPSENSE_COSMOS_DATABASE"] == "cosmosDatabaseName"
    assert module_params(MAIN, "functionApp")["cosmosDatabaseName"] == "cosmosDatabaseName"
    assert bicep(MAIN)["variables"]["cosmosDatabaseName"]["value"] == "shopsense"


def test_storage_and_cosmos_containers_are_the_ones_the_app_uses():
    variables = bicep(MAIN)["variables"]
    blob_containers = variables["blobContainerNames"]["value"]
    deployment_container = variables["deploymentContainerName"]["value"]
    assert set(blob_containers) == {
        "uploads", "bronze", "silver", "quarantine", "models", "deadLetterContainerName", "deploymentContainerName",
    }
    assert deployment_container == "app-package"
    # Every blob-triggered function's container exists.
    for name, trigger in code_config()["triggers"].items():
        if trigger and trigger["type"] == "blobTrigger":
            assert trigger["path"].split("/")[0] in blob_containers, f"{name}: container of {trigger['path']}"
    cosmos = avm_module(MAIN, "avm/res/document-db/database-account")
    (database,) = cosmos["sqlDatabases"]
    assert database["name"] == "cosmosDatabaseName"
    assert set(variables["cosmosContainerNames"]["value"]) == {"serving", "alerts", "registry"}
    # One loop over cosmosContainerNames: every container is partitioned by /pk, as the
    # document store assumes.
    containers = database["containers"]
    assert containers["loop_type"]["detail"]["array_name"] == "cosmosContainerNames"
    assert containers["config"]["paths"] == ["/pk"]


def test_every_function_has_the_trigger_wiring_it_needs():
    config = code_config()
    host = json.loads((REPO / "host.json").read_text())
    subscriptions = {
        conditioned_function(mod): (name, mod)
        for name, mod in bicep(EVENT_SUBSCRIPTIONS)["modules"].items()
    }
    for function in config["functions"]:
        trigger = config["triggers"][function]
        assert trigger, f"{function} has no trigger binding"
        kind = trigger["type"]
        if kind == "httpTrigger":
            # Forwarded by the host under /api: nothing to deploy besides the app.
            assert trigger.get("route"), f"{function}: HTTP functions name their route"
            assert host["extensions"]["http"]["routePrefix"] == "api"
            assert host["customHandler"]["enableForwardingHttpRequest"] is True
        elif kind == "timerTrigger":
            assert trigger.get("schedule"), f"{function}: timers need a schedule"
        elif kind == "blobTrigger":
            assert trigger.get("source") == "EventGrid", f"{function}: Flex Consumption runs blob triggers only with source EventGrid"
            # One upload at a time per instance: every ingest recomputes the features from the
            # whole history (about 0.4 GB a million lines), and the host's default would run 8
            # per core at once on a 2 GB instance.
            assert host["extensions"]["blobs"]["maxDegreeOfParallelism"] == 1
            assert function in subscriptions, f"{function}: no Event Grid subscription in event-subscriptions.bicep"
            name, mod = subscriptions[function]
            assert mod["type"] == "local" and mod["detail"]["path"] == "blob-trigger-subscription.bicep", name
            params = module_params(EVENT_SUBSCRIPTIONS, name)
            assert params["functionName"] == function
            container = params["containerName"]
            if container in bicep(EVENT_SUBSCRIPTIONS)["parameters"]:
                container = param_default(EVENT_SUBSCRIPTIONS, container)
            assert container == trigger["path"].split("/")[0], f"{function}: subscribed container {container}, trigger path {trigger['path']}"
        elif kind == "eventGridTrigger":
            assert function in subscriptions, f"{function}: no Event Grid subscription in event-subscriptions.bicep"
            name, _ = subscriptions[function]
            destination = module_params(EVENT_SUBSCRIPTIONS, name)["destination"]
            assert destination["endpointType"] == "AzureFunction"
            assert destination["properties"]["resourceId"].endswith(f"/functions/{function}")
        else:
            pytest.fail(f"{function}: trigger type {kind} is not handled by these checks; teach them what it needs")


def test_the_blob_trigger_subscription_targets_the_blobs_extension_webhook():
    (resource,) = [r for r in bicep(BLOB_TRIGGER_SUBSCRIPTION)["resources"].values() if not r["existing"]]
    assert resource["type"] == "Microsoft.EventGrid/systemTopics/eventSubscriptions"
    properties = resource["config"]["properties"]
    destination = properties["destination"]
    assert destination["endpointType"] == "WebHook"
    url = destination["properties"]["endpointUrl"]
    assert url.startswith("https://${hostName}/runtime/webhooks/blobs?functionName=Host.Functions.${functionName}&code="), url
    assert properties["filter"]["includedEventTypes"] == ["Microsoft.Storage.BlobCreated"]
    assert properties["filter"]["subjectBeginsWith"] == "/blobServices/default/containers/${containerName}/"
    assert properties["eventDeliverySchema"] == "EventGridSchema"


def test_every_subscription_waits_for_its_function_to_be_deployed():
    known = set(code_config()["functions"])
    waiting = []
    for name, mod in bicep(EVENT_SUBSCRIPTIONS)["modules"].items():
        function = conditioned_function(mod)
        assert function, f"{name}: must be deployed `if (contains(functionNames, '<function>'))`"
        params = module(EVENT_SUBSCRIPTIONS, name)["params"]
        target = params.get("functionName") or params["destination"]["properties"]["resourceId"].rsplit("/", 1)[-1]
        assert target == function, f"{name}: deployed for {function} but targets {target}"
        if function not in known:
            waiting.append(function)
    assert not bicep(EVENT_SUBSCRIPTIONS)["resources"] or all(
        r["existing"] for r in bicep(EVENT_SUBSCRIPTIONS)["resources"].values()
    ), "subscriptions are modules with a condition, never unconditional resources"
    # Both event-triggered functions have their subscription.
    assert "inventory-alert" in {conditioned_function(m) for m in bicep(EVENT_SUBSCRIPTIONS)["modules"].values()}
    print(f"subscriptions waiting for their functions: {waiting or 'none'}")


def test_the_inventory_subscription_selects_inventory_uploads():
    params = module_params(EVENT_SUBSCRIPTIONS, "inventoryAlert")
    assert params["filter"]["includedEventTypes"] == ["Microsoft.Storage.BlobCreated"]
    assert params["filter"]["subjectBeginsWith"] == "/blobServices/default/containers/${uploadsContainerName}/blobs/inventory/"
    fixture = json.loads((REPO / "functions" / "tests" / "fixtures" / "eventgrid.json").read_text())
    subject = fixture["Data"]["event"]["subject"]
    prefix = params["filter"]["subjectBeginsWith"].replace("${uploadsContainerName}", param_default(EVENT_SUBSCRIPTIONS, "uploadsContainerName"))
    assert subject.startswith(prefix), f"the recorded inventory event {subject} would not match {prefix}"


def test_every_subscription_dead_letters_into_the_container_the_retrain_replays():
    """After a day of retries an event is written to the dead-letter container, by the system
    topic's own identity, which may write there and nowhere else; the container is the one the
    code replays (shared/src/dead_letters.rs) and main.bicep creates."""
    rust = (REPO / "shared" / "src" / "dead_letters.rs").read_text()
    (code_container,) = re.findall(r'pub const DEAD_LETTER_CONTAINER: &str = "([a-z0-9-]+)";', rust)
    variables = bicep(MAIN)["variables"]
    assert variables["deadLetterContainerName"]["value"] == code_container
    assert "deadLetterContainerName" in variables["blobContainerNames"]["value"]
    assert param_default(EVENT_SUBSCRIPTIONS, "deadLetterContainerName") == code_container
    assert dotted(module(MAIN, "deadLetterAccess")["params"]["containerName"]) == "deadLetterContainerName"
    outputs = bicep(MAIN)["outputs"]
    assert dotted(outputs["AZURE_DEAD_LETTER_CONTAINER"]["value"]) == "deadLetterContainerName"

    topic = avm_module(MAIN, "avm/res/event-grid/system-topic")
    assert topic["managedIdentities"] == {"systemAssigned": True}
    assert dotted(module(MAIN, "deadLetterAccess")["params"]["topicPrincipalId"]) == "uploadsTopic.outputs.systemAssignedMIPrincipalId"
    (grant,) = [r for r in bicep(DEAD_LETTER_ACCESS)["resources"].values() if not r["existing"]]
    assert grant["type"] == "Microsoft.Authorization/roleAssignments"
    assert grant["config"]["scope"] == "container", "the grant covers the dead-letter container only"
    assert dotted(grant["config"]["properties"]["principalId"]) == "topicPrincipalId"

    dead_letter = bicep(EVENT_SUBSCRIPTIONS)["variables"]["deadLetter"]["value"]
    assert dead_letter["identity"] == {"type": "SystemAssigned"}
    destination = dead_letter["deadLetterDestination"]
    assert destination["endpointType"] == "StorageBlob"
    assert dotted(destination["properties"]["blobContainerName"]) == "deadLetterContainerName"
    for name in bicep(EVENT_SUBSCRIPTIONS)["modules"]:
        params = module_params(EVENT_SUBSCRIPTIONS, name)
        assert dotted(params["deadLetterWithResourceIdentity"]) == "deadLetter", name
    (resource,) = [r for r in bicep(BLOB_TRIGGER_SUBSCRIPTION)["resources"].values() if not r["existing"]]
    properties = resource["config"]["properties"]
    assert dotted(properties["deadLetterWithResourceIdentity"]) == "deadLetterWithResourceIdentity"
    script = (REPO / "scripts" / "subscribe-events.sh").read_text()
    for setting, parameter in [("AZURE_STORAGE_ACCOUNT_NAME", "storageAccountName"), ("AZURE_DEAD_LETTER_CONTAINER", "deadLetterContainerName")]:
        assert f'"{parameter}": {{ "value": "${setting}" }}' in script, parameter
        assert setting in outputs, f"main.bicep does not output {setting} for the script"


# Built-in roles by definition ID: the human name every use must be commented with.
ROLES = {
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "Storage Blob Data Owner",
    "974c5e8b-45b9-4653-ba55-5f855dd0fb88": "Storage Queue Data Contributor",
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe": "Storage Blob Data Contributor",
    "3913510d-42f4-4e42-8a64-420c390055eb": "Monitoring Metrics Publisher",
    "00000000-0000-0000-0000-000000000002": "Cosmos DB Built-in Data Contributor",
}
ROLE_KEYS = {
    "storageBlobDataOwner": "Storage Blob Data Owner",
    "storageQueueDataContributor": "Storage Queue Data Contributor",
    "storageBlobDataContributor": "Storage Blob Data Contributor",
    "monitoringMetricsPublisher": "Monitoring Metrics Publisher",
    "cosmosBuiltInDataContributor": "Cosmos DB Built-in Data Contributor",
}


@pytest.mark.parametrize("path", bicep_files(), ids=lambda p: str(p.relative_to(INFRA)))
def test_every_role_is_a_known_one_and_commented_with_its_name(path: Path):
    lines = path.read_text().splitlines()
    guid = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
    for number, line in enumerate(lines):
        for found in guid.findall(line):
            assert found.lower() in ROLES, f"{path.name}:{number + 1}: unknown role or GUID {found}"
            name = ROLES[found.lower()]
            context = " ".join(lines[max(0, number - 3): number + 1])
            assert name in context, f"{path.name}:{number + 1}: role {found} needs a comment naming it ({name})"
        for key, name in ROLE_KEYS.items():
            if re.search(rf"roleIds\.{key}\b", line):
                context = " ".join(lines[max(0, number - 2): number + 1])
                assert name in context, f"{path.name}:{number + 1}: roleIds.{key} needs a comment naming {name}"


def test_the_identity_holds_exactly_the_roles_the_app_needs():
    def granted(assignments: Any, key: str) -> set[str]:
        # roleAssignments are `concat([...app roles...], developerRoles)` or a plain list.
        if isinstance(assignments, dict):
            assignments = assignments["function"]["parameters"]["arg_1"]
        return {
            dotted(a[key]).removeprefix("roleIds.")
            for a in assignments
            if dotted(a["principalId"]) == "identity.outputs.principalId"
        }

    storage = avm_module(MAIN, "avm/res/storage/storage-account")
    assert granted(storage["roleAssignments"], "roleDefinitionIdOrName") == {"storageBlobDataOwner", "storageQueueDataContributor"}
    cosmos = avm_module(MAIN, "avm/res/document-db/database-account")
    assert granted(cosmos["sqlRoleAssignments"], "roleDefinitionId") == {"cosmosBuiltInDataContributor"}
    insights = avm_module(MAIN, "avm/res/insights/component")
    assert granted(insights["roleAssignments"], "roleDefinitionIdOrName") == {"monitoringMetricsPublisher"}
    role_ids = bicep(MAIN)["variables"]["roleIds"]["value"]
    assert {ROLE_KEYS[k]: v for k, v in role_ids.items()} == {name: guid for guid, name in ROLES.items()}


def test_modules_come_from_the_public_registry_at_pinned_versions():
    modules = registry_modules()
    assert modules, "the infra uses Azure Verified Modules"
    for path, name, detail in modules:
        assert detail["public"] and detail["path"].startswith("avm/res/"), f"{path.name}:{name}: {detail['full']}"
        assert re.fullmatch(r"\d+\.\d+\.\d+", detail["tag"]), f"{path.name}:{name}: pin an exact version, not {detail['tag']}"


def test_main_parameters_file_fills_main_bicep():
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    declared = bicep(MAIN)["parameters"]
    assert set(parameters) <= set(declared), set(parameters) - set(declared)
    required = {name for name, p in declared.items() if p["default"] is None}
    assert required <= set(parameters), f"required parameters missing from main.parameters.json: {required - set(parameters)}"
    assert parameters["environmentName"]["value"] == "${AZURE_ENV_NAME}"
    assert parameters["location"]["value"] == "${AZURE_LOCATION}"
    outputs = bicep(MAIN)["outputs"]
    for needed in ("AZURE_RESOURCE_GROUP", "AZURE_FUNCTION_APP_NAME", "AZURE_EVENTGRID_SYSTEM_TOPIC_NAME", "AZURE_FUNCTION_APP_URL"):
        assert needed in outputs, f"main.bicep must output {needed} (scripts/subscribe-events.sh, deploy.yml)"


def test_azure_yaml_packages_with_the_script_and_deploys_the_tested_zip():
    project = yaml.safe_load((REPO / "azure.yaml").read_text())
    assert project["infra"] == {"provider": "bicep", "path": "infra", "module": "main"}
    (name, service), = project["services"].items()
    assert service["host"] == "function"
    assert service["language"] == "custom"
    assert service["dist"] == "dist/app.zip"
    assert service["hooks"]["prepackage"]["posix"]["run"] == "./scripts/package.sh"
    assert service["hooks"]["postdeploy"]["posix"]["run"] == "./scripts/subscribe-events.sh"
    for script in ("scripts/package.sh", "scripts/subscribe-events.sh"):
        assert os.access(REPO / script, os.X_OK), f"{script} must be executable"
    # azd finds the app by its azd-service-name tag.
    assert re.search(rf"var serviceName = '{re.escape(name)}'", FUNCTION_APP.read_text()), "function-app.bicep tags the app with the azure.yaml service name"


def test_the_deploy_workflow_signs_in_with_oidc_and_runs_the_same_steps_as_azd_up():
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "deploy.yml").read_text())
    triggers = workflow[True] if True in workflow else workflow["on"]  # YAML 1.1 reads `on` as true
    assert "workflow_dispatch" in triggers and "push" not in triggers, "a push deploys through its ci run"
    # A push deploys only after its `ci` run passed, and deploys the commit that run tested.
    assert triggers["workflow_run"] == {"workflows": ["ci"], "types": ["completed"], "branches": ["main"]}
    ci = yaml.safe_load((REPO / ".github" / "workflows" / "ci.yml").read_text())
    assert ci["name"] == "ci"
    assert "github.event.workflow_run.conclusion == 'success'" in workflow["jobs"]["current"]["if"]
    # An older commit's ci run finishing last must not deploy over a newer one.
    assert workflow["jobs"]["build"]["needs"] == "current"
    assert workflow["jobs"]["build"]["if"] == "needs.current.outputs.deploy == 'true'"
    assert workflow["env"]["DEPLOY_SHA"] == "${{ github.event.workflow_run.head_sha || github.sha }}"
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            if str(step.get("uses", "")).startswith("actions/checkout@"):
                assert step["with"]["ref"] == "${{ env.DEPLOY_SHA }}", "checks out the tested commit"
    # Only the deploy job can get an OIDC token: the build runs every dependency's build script.
    assert "id-token" not in workflow["permissions"], "no workflow-wide id-token"
    build, deploy = workflow["jobs"]["build"], workflow["jobs"]["deploy"]
    assert "id-token" not in build.get("permissions", {})
    assert deploy["permissions"]["id-token"] == "write"
    assert deploy["needs"] == "build" and deploy["environment"] == "production"
    login = [s for s in deploy["steps"] if str(s.get("uses", "")).startswith("azure/login@")]
    assert len(login) == 1
    assert login[0]["with"] == {
        "client-id": "${{ vars.AZURE_CLIENT_ID }}",
        "tenant-id": "${{ vars.AZURE_TENANT_ID }}",
        "subscription-id": "${{ vars.AZURE_SUBSCRIPTION_ID }}",
    }
    assert not any(str(s.get("uses", "")).startswith("azure/login@") for s in build["steps"])
    runs = lambda job: "\n".join(str(s.get("run", "")) for s in job["steps"])
    assert "./scripts/package.sh" in runs(build)
    assert "./scripts/package.sh" not in runs(deploy) and "cargo" not in runs(deploy), "nothing is built with the token"
    # The smoke test reaches the stores too: /api/health without the check answers without them.
    assert '"$url/api/health?check=stores"' in runs(deploy) and '"$url/api/models"' in runs(deploy)
    assert 'x-functions-key: $key' in runs(deploy) and "::add-mask::$key" in runs(deploy), "a masked function key"
    for command in ("azd provision --no-prompt", "azd deploy shopsense --from-package dist/app.zip --no-prompt"):
        assert command in runs(deploy), f"deploy.yml must run {command}"
    for job in (build, deploy):
        for step in job["steps"]:
            if str(step.get("uses", "")).startswith("actions/checkout@"):
                assert step.get("with", {}).get("persist-credentials") is False, "checkout keeps no token"


def test_workflows_pass_actionlint():
    assert WORKFLOWS, "no workflows found"
    result = subprocess.run(["actionlint", *map(str, WORKFLOWS)], cwd=REPO, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_action_is_pinned_to_a_commit_with_its_version_named():
    # A tag can be moved to other code; a commit cannot. Dependabot updates both, comment too.
    pinned = re.compile(r"^\s*-?\s*uses: [\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")
    uses = [line for path in WORKFLOWS for line in path.read_text().splitlines() if re.match(r"^\s*-?\s*uses:", line)]
    assert uses, "the workflows use actions"
    unpinned = [line.strip() for line in uses if not pinned.match(line)]
    assert not unpinned, unpinned


def test_deployment_scripts_pass_shellcheck():
    result = subprocess.run(["shellcheck", "-x", *map(str, OUR_SCRIPTS)], cwd=REPO, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dependabot_watches_every_ecosystem_we_pin():
    config = yaml.safe_load((REPO / ".github" / "dependabot.yml").read_text())
    watched = {(u["package-ecosystem"], u["directory"]) for u in config["updates"]}
    assert watched == {("github-actions", "/"), ("cargo", "/"), ("npm", "/emulators"), ("pip", "/infra/tests")}


# --------------------------------------------------------------------------------------------
# The checkers themselves: they must catch what they exist to catch.
# --------------------------------------------------------------------------------------------


def test_the_secret_scanner_catches_keys_and_lets_identity_settings_pass():
    assert secret_findings("var k = storage.listKeys().keys[0].value")
    assert secret_findings("AzureWebJobsStorage: 'DefaultEndpointsProtocol=https;AccountName=a;AccountKey=b'")
    assert secret_findings("value: cosmos.outputs.primaryReadWriteKey")
    assert secret_findings("          client-secret: ${{ secrets.X }}")
    assert not secret_findings("ShopsenseStorage__credential: 'managedidentity'")
    assert not secret_findings("APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${id};Authorization=AAD'")


def test_the_settings_comparison_catches_missing_and_unknown_settings():
    read = ["ShopsenseStorage__blobServiceUri", "ShopsenseStorage__serviceUri", *NOT_SET_IN_AZURE, *HAS_CODE_DEFAULT]
    host = {f"AzureWebJobsStorage__{s}" for s in ("credential", "clientId", "blobServiceUri", "queueServiceUri")}
    ours = {"ShopsenseStorage__blobServiceUri"}
    assert settings_problems(read, ours | host, set()) == []
    missing = settings_problems(read, host, set())
    assert any("does not set it" in p and "blobServiceUri" in p for p in missing), missing
    unknown = settings_problems(read, ours | host | {"SHOPSENSE_TYPO"}, set())
    assert any("SHOPSENSE_TYPO" in p for p in unknown), unknown
    keyed = settings_problems(read, ours | host | {"ShopsenseStorage"}, set())
    assert any("must not be set" in p for p in keyed), keyed
    poison = {"ShopsenseStorage__queueServiceUri"}
    assert settings_problems(read, ours | host | poison, poison) == []
    no_poison = settings_problems(read, ours | host, poison)
    assert any("host reads ShopsenseStorage__queueServiceUri" in p for p in no_poison), no_poison
    for dropped in ("AzureWebJobsStorage__credential", "AzureWebJobsStorage__queueServiceUri"):
        hostless = settings_problems(read, ours | (host - {dropped}), set())
        assert any("host's own storage" in p for p in hostless), (dropped, hostless)
    stale = settings_problems(read[:-1], ours | host, set())
    assert any("no longer reads it" in p for p in stale), stale
