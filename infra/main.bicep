// shopsense on Azure: one resource group holding a Flex Consumption function app (the one
// `shopsense` custom-handler binary), its user-assigned managed identity, a storage account with
// shared keys disabled, serverless Cosmos DB with local auth disabled, monitoring, and the Event
// Grid system topic that turns blob uploads into function invocations.
//
// Nothing here creates, reads or hands out a key: every client (the Functions host, our code, the
// deployment upload, telemetry) authenticates with the managed identity through Microsoft Entra
// ID. Event subscriptions need the deployed functions, so they are a second deployment run after
// the code deploy (infra/app/event-subscriptions.bicep via scripts/subscribe-events.sh).
//
// Deployed by `azd provision`/`azd up` (parameters from main.parameters.json) or by
// `az deployment sub create --template-file infra/main.bicep ...` in .github/workflows/deploy.yml.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the environment (azd: AZURE_ENV_NAME). It names the resource group and seeds the unique token in every resource name, so two environments never collide.')
param environmentName string

@minLength(1)
@description('Azure region of every resource. It must offer Flex Consumption: see `az functionapp list-flexconsumption-locations`.')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@allowed([
  512
  2048
  4096
])
@description('Memory per Flex Consumption instance in MB; the CPU share grows with it. 2048 leaves room for model training in-process; 512 is enough for ingest alone.')
param instanceMemoryMB int = 2048

@minValue(1)
@maxValue(1000)
@description('Most Flex Consumption instances the app scales out to. Caps cost, and the request rate a burst of uploads can put on Cosmos DB.')
param maximumInstanceCount int = 40

@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
])
@description('Redundancy of the storage account holding uploads, bronze/silver data and models. Pick a zone- or geo-redundant SKU for production where the region offers it.')
param storageSkuName string = 'Standard_LRS'

@description('Make the serverless Cosmos DB account zone redundant (costs more; the region must have availability zones). Can only be chosen when the account is created.')
param cosmosZoneRedundant bool = false

// The retention periods Application Insights accepts; Log Analytics takes any of them too.
@allowed([
  30
  60
  90
  120
  180
  270
  365
  550
  730
])
@description('Days Log Analytics keeps the function logs and Application Insights telemetry.')
param logRetentionInDays int = 30

@description('Object ID of a developer (user or group) to grant the data-plane roles the app has on storage and Cosmos DB, so `shopsense` on a workstation can reach this environment with Azure CLI sign-in. Empty grants nothing.')
param developerPrincipalId string = ''

@allowed([
  'User'
  'Group'
])
@description('Kind of principal developerPrincipalId names.')
param developerPrincipalType string = 'User'

@description('Browser origins allowed to call the HTTP API (CORS), comma-separated, e.g. `https://shop.example,https://admin.shop.example` (azd: SHOPSENSE_CORS_ALLOWED_ORIGINS). Empty allows none: server-side callers need no CORS. The platform answers CORS in front of the app, as `Host.CORS` of local.settings.json does for `shopsense local`.')
param corsAllowedOrigins string = ''

@description('E-mail address told when an alert rule fires: the nightly retrain failed, a retrain\'s version was rejected by its gate, an upload was given up (azd: SHOPSENSE_ALERT_EMAIL). Empty: the rules still fire in Azure Monitor, and nobody is mailed.')
param alertEmail string = ''

@description('Send Azure Verified Modules usage telemetry to Microsoft (a no-op deployment per module). Off unless opted in.')
param enableAvmTelemetry bool = false

var abbrs = loadJsonContent('abbreviations.json')
// Deterministic per subscription, environment and region: re-running a deployment updates the
// same resources instead of creating new ones.
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var functionAppName = '${abbrs.webSitesFunctions}shopsense-${resourceToken}'

// Blob containers the code uses (shared/src: bronze.rs, tables.rs; models arrive with training)
// plus the one Flex Consumption deploys the app package from.
var deploymentContainerName = 'app-package'
// Where Event Grid writes the events it gave up delivering (shared/src/dead_letters.rs).
var deadLetterContainerName = 'deadletters'
var blobContainerNames = [
  'uploads'
  'bronze'
  'silver'
  'quarantine'
  'models'
  deadLetterContainerName
  deploymentContainerName
]

// Cosmos DB: the database the code defaults to and its containers. The document store always
// partitions by `/pk` (README, "Storage").
var cosmosDatabaseName = 'shopsense'
var cosmosContainerNames = [
  'serving'
  'alerts'
  'registry'
]

// Built-in role definitions (the same GUIDs in every tenant), granted below to the app identity
// and, when developerPrincipalId is set, to a developer.
var roleIds = {
  // Storage Blob Data Owner: the Functions host keeps its keys, leases and the deployment package
  // in blobs and needs ownership-level blob access with shared keys off; our code reads uploads
  // and writes bronze/silver/quarantine/models.
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  // Storage Queue Data Contributor: the blob trigger's bookkeeping (poison queue) lives in queues.
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  // Storage Blob Data Contributor: what a developer needs to read and write blobs, no more.
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  // Monitoring Metrics Publisher: the host sends telemetry to Application Insights with Entra
  // auth (APPLICATIONINSIGHTS_AUTHENTICATION_STRING), since local auth is disabled there.
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
  // Cosmos DB Built-in Data Contributor: a Cosmos DB data-plane role (sqlRoleDefinitions), not an
  // Azure RBAC role; read and write items in every container of the account.
  cosmosBuiltInDataContributor: '00000000-0000-0000-0000-000000000002'
}

var developerStorageRoles = empty(developerPrincipalId) ? [] : [
  {
    // Storage Blob Data Contributor for the developer: the CLI's blob access.
    roleDefinitionIdOrName: roleIds.storageBlobDataContributor
    principalId: developerPrincipalId
    principalType: developerPrincipalType
    description: 'Developer access to shopsense blobs (Azure CLI sign-in).'
  }
]

var developerCosmosRoles = empty(developerPrincipalId) ? [] : [
  {
    // Cosmos DB Built-in Data Contributor for the developer: the CLI's document access.
    roleDefinitionId: roleIds.cosmosBuiltInDataContributor
    principalId: developerPrincipalId
  }
]

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

// The app's only credential. User-assigned rather than system-assigned so its roles exist before
// the app does: the first start already reaches storage and Cosmos DB.
module identity 'br/public:avm/res/managed-identity/user-assigned-identity:0.6.0' = {
  name: 'identity'
  scope: rg
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}shopsense-${resourceToken}'
    location: location
    tags: tags
    enableTelemetry: enableAvmTelemetry
  }
}

module storage 'br/public:avm/res/storage/storage-account:0.33.0' = {
  name: 'storage'
  scope: rg
  params: {
    name: '${abbrs.storageStorageAccounts}${resourceToken}'
    location: location
    tags: tags
    kind: 'StorageV2'
    skuName: storageSkuName
    // Entra ID only: no account keys, no SAS, for the host, the code and deployments alike.
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    minimumTlsVersion: 'TLS1_2'
    // Reachable from Flex Consumption instances (no VNet integration here); data access still
    // requires an Entra token with one of the roles below.
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
    blobServices: {
      // Soft delete: an overwritten or deleted upload can be recovered for a week.
      deleteRetentionPolicyEnabled: true
      deleteRetentionPolicyDays: 7
      containerDeleteRetentionPolicyEnabled: true
      containerDeleteRetentionPolicyDays: 7
      containers: [
        for containerName in blobContainerNames: {
          name: containerName
          publicAccess: 'None'
        }
      ]
    }
    roleAssignments: concat(
      [
        {
          // Storage Blob Data Owner for the app identity (host storage, deployment package, data).
          roleDefinitionIdOrName: roleIds.storageBlobDataOwner
          principalId: identity.outputs.principalId
          principalType: 'ServicePrincipal'
          description: 'shopsense function app: host storage, deployment package and data containers.'
        }
        {
          // Storage Queue Data Contributor for the app identity (blob trigger bookkeeping).
          roleDefinitionIdOrName: roleIds.storageQueueDataContributor
          principalId: identity.outputs.principalId
          principalType: 'ServicePrincipal'
          description: 'shopsense function app: blob trigger poison queue.'
        }
      ],
      developerStorageRoles
    )
    enableTelemetry: enableAvmTelemetry
  }
}

module cosmos 'br/public:avm/res/document-db/database-account:0.20.1' = {
  name: 'cosmos'
  scope: rg
  params: {
    name: '${abbrs.documentDBDatabaseAccounts}${resourceToken}'
    location: location
    tags: tags
    // Serverless: pay per request, no provisioned throughput to size (the module then sets none).
    capabilitiesToAdd: [
      'EnableServerless'
    ]
    // Entra ID only: account keys are rejected for data and for metadata writes.
    disableLocalAuthentication: true
    disableKeyBasedMetadataWriteAccess: true
    zoneRedundant: cosmosZoneRedundant
    defaultConsistencyLevel: 'Session'
    // Point-in-time restore for the last 7 days, at no extra cost.
    backupPolicyType: 'Continuous'
    backupPolicyContinuousTier: 'Continuous7Days'
    // The module defaults to no public access; Flex instances without VNet integration need it.
    networkRestrictions: {
      publicNetworkAccess: 'Enabled'
      networkAclBypass: 'None'
    }
    sqlDatabases: [
      {
        name: cosmosDatabaseName
        containers: [
          for containerName in cosmosContainerNames: {
            name: containerName
            paths: [
              '/pk'
            ]
          }
        ]
      }
    ]
    sqlRoleAssignments: concat(
      [
        {
          // Cosmos DB Built-in Data Contributor for the app identity (serving, alerts, registry).
          roleDefinitionId: roleIds.cosmosBuiltInDataContributor
          principalId: identity.outputs.principalId
        }
      ],
      developerCosmosRoles
    )
    enableTelemetry: enableAvmTelemetry
  }
}

module logAnalytics 'br/public:avm/res/operational-insights/workspace:0.16.1' = {
  name: 'log-analytics'
  scope: rg
  params: {
    name: '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    location: location
    tags: tags
    dataRetention: logRetentionInDays
    features: {
      disableLocalAuth: true
    }
    enableTelemetry: enableAvmTelemetry
  }
}

module appInsights 'br/public:avm/res/insights/component:0.8.0' = {
  name: 'app-insights'
  scope: rg
  params: {
    name: '${abbrs.insightsComponents}${resourceToken}'
    location: location
    tags: tags
    kind: 'web'
    applicationType: 'web'
    workspaceResourceId: logAnalytics.outputs.resourceId
    retentionInDays: logRetentionInDays
    // Ingestion only with an Entra token: the instrumentation key alone cannot send telemetry.
    disableLocalAuth: true
    roleAssignments: [
      {
        // Monitoring Metrics Publisher for the app identity (Entra-authenticated telemetry).
        roleDefinitionIdOrName: roleIds.monitoringMetricsPublisher
        principalId: identity.outputs.principalId
        principalType: 'ServicePrincipal'
        description: 'shopsense function app: telemetry with Entra auth.'
      }
    ]
    enableTelemetry: enableAvmTelemetry
  }
}

module plan 'br/public:avm/res/web/serverfarm:0.7.0' = {
  name: 'plan'
  scope: rg
  params: {
    name: '${abbrs.webServerFarms}${resourceToken}'
    location: location
    tags: tags
    // FC1 is Flex Consumption, the serverless Linux plan that supports custom handlers going
    // forward (Linux Consumption gets no new features and retires in 2028).
    skuName: 'FC1'
    kind: 'functionapp'
    reserved: true
    zoneRedundant: false
    enableTelemetry: enableAvmTelemetry
  }
}

module functionApp 'app/function-app.bicep' = {
  name: 'function-app'
  scope: rg
  params: {
    name: functionAppName
    location: location
    tags: tags
    planResourceId: plan.outputs.resourceId
    identityResourceId: identity.outputs.resourceId
    identityClientId: identity.outputs.clientId
    blobEndpoint: storage.outputs.serviceEndpoints.blob
    queueEndpoint: storage.outputs.serviceEndpoints.queue
    deploymentContainerName: deploymentContainerName
    cosmosEndpoint: cosmos.outputs.endpoint
    cosmosDatabaseName: cosmosDatabaseName
    appInsightsConnectionString: appInsights.outputs.connectionString
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    corsAllowedOrigins: filter(map(split(corsAllowedOrigins, ','), origin => trim(origin)), origin => !empty(origin))
    enableAvmTelemetry: enableAvmTelemetry
  }
}

// Blob events of the storage account. The subscriptions that route them to functions are
// deployed after the code (infra/app/event-subscriptions.bicep): Event Grid validates a
// subscription's endpoint when it is created, so the function must already be running.
module uploadsTopic 'br/public:avm/res/event-grid/system-topic:0.7.0' = {
  name: 'uploads-topic'
  scope: rg
  params: {
    name: '${abbrs.eventGridSystemTopics}${resourceToken}'
    location: location
    tags: tags
    source: storage.outputs.resourceId
    topicType: 'Microsoft.Storage.StorageAccounts'
    // The identity the subscriptions write their dead letters with (no key involved).
    managedIdentities: {
      systemAssigned: true
    }
    enableTelemetry: enableAvmTelemetry
  }
}

// The topic's identity may write to the dead-letter container, and only there.
module deadLetterAccess 'app/dead-letter-access.bicep' = {
  name: 'dead-letter-access'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    containerName: deadLetterContainerName
    topicPrincipalId: uploadsTopic.outputs.systemAssignedMIPrincipalId!
  }
}

// Alert rules on the app's telemetry (retrain failed or rejected, an upload given up), and the
// action group that mails alertEmail when one is given.
module alerts 'app/alerts.bicep' = {
  name: 'alerts'
  scope: rg
  params: {
    location: location
    tags: tags
    namePrefix: 'shopsense-${resourceToken}'
    appInsightsResourceId: appInsights.outputs.resourceId
    alertEmail: alertEmail
  }
}

// azd stores these in the environment (.azure/<env>/.env) and hands them to hooks:
// scripts/subscribe-events.sh reads the resource group, app and topic names.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AZURE_FUNCTION_APP_URL string = functionApp.outputs.url
output AZURE_EVENTGRID_SYSTEM_TOPIC_NAME string = uploadsTopic.outputs.name
output AZURE_DEAD_LETTER_CONTAINER string = deadLetterContainerName
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_STORAGE_BLOB_ENDPOINT string = storage.outputs.serviceEndpoints.blob
output AZURE_COSMOS_ENDPOINT string = cosmos.outputs.endpoint
output AZURE_COSMOS_DATABASE string = cosmosDatabaseName
output AZURE_MANAGED_IDENTITY_CLIENT_ID string = identity.outputs.clientId
