// The shopsense function app on Flex Consumption: the `custom` runtime (our one binary started by
// host.json), the deployment package pulled from a blob container with the user-assigned
// identity, and app settings that are identity-based only.
//
// `appSettings` below is the complete list of settings Azure sets for the app. infra/tests checks
// it against the settings the code reads (`shopsense config --json` -> read_settings): every one
// the code needs in Azure is here, and nothing under our prefixes is here that the code does not
// read (or the Functions host, for the blob trigger's connection).

@description('Name of the function app; also its default host name prefix.')
param name string

@description('Azure region of the app (the plan\'s region).')
param location string

@description('Tags for the app; azd-service-name is added so `azd deploy` finds it.')
param tags object

@description('Resource ID of the Flex Consumption (FC1) plan.')
param planResourceId string

@description('Resource ID of the user-assigned identity the app runs as.')
param identityResourceId string

@description('Client ID of that identity: the __clientId of every identity-based connection.')
param identityClientId string

@description('Blob service endpoint of the storage account (https://<account>.blob.core.windows.net/).')
param blobEndpoint string

@description('Queue service endpoint of the same account, for the host and the blob trigger.')
param queueEndpoint string

@description('Container holding the deployment package that Flex Consumption runs.')
param deploymentContainerName string

@description('Cosmos DB account endpoint (https://<account>.documents.azure.com:443/).')
param cosmosEndpoint string

@description('Cosmos DB database holding the serving, alerts and registry containers.')
param cosmosDatabaseName string

@description('Application Insights connection string. It names the ingestion endpoint and resource only: with local auth disabled, sending needs an Entra token.')
param appInsightsConnectionString string

@allowed([
  512
  2048
  4096
])
@description('Memory per instance in MB.')
param instanceMemoryMB int

@minValue(1)
@maxValue(1000)
@description('Most instances the app scales out to.')
param maximumInstanceCount int

@description('Browser origins allowed to call the HTTP API (CORS); empty allows none.')
param corsAllowedOrigins array

@description('Send Azure Verified Modules usage telemetry to Microsoft.')
param enableAvmTelemetry bool

@description('NCRONTAB schedule of the nightly retrain (six fields, UTC).')
param retrainSchedule string = '0 0 2 * * *'

// The service name in azure.yaml; azd finds the app by this tag.
var serviceName = 'shopsense'

// Identity-based connections in the Functions host's conventions (<Conn>__blobServiceUri,
// __credential = managedidentity, __clientId). No connection strings, no keys, no SAS.
var appSettings = {
  // The host's own storage (keys, leases, timers), through the identity.
  AzureWebJobsStorage__blobServiceUri: blobEndpoint
  AzureWebJobsStorage__queueServiceUri: queueEndpoint
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  // Our blob account (uploads, bronze, silver, quarantine, models). The code reads
  // __blobServiceUri; the host's blob trigger on this connection also needs __queueServiceUri
  // for its poison queue.
  ShopsenseStorage__blobServiceUri: blobEndpoint
  ShopsenseStorage__queueServiceUri: queueEndpoint
  ShopsenseStorage__credential: 'managedidentity'
  ShopsenseStorage__clientId: identityClientId
  // Cosmos DB (serving documents, alerts, registry pointers).
  ShopsenseCosmos__accountEndpoint: cosmosEndpoint
  ShopsenseCosmos__credential: 'managedidentity'
  ShopsenseCosmos__clientId: identityClientId
  SHOPSENSE_COSMOS_DATABASE: cosmosDatabaseName
  // Azure, always: a missing identity setting must stop the app at start rather than let `auto`
  // fall back to the local backend on an instance's throwaway disk.
  SHOPSENSE_BACKEND: 'azure'
  // The retrain timer's NCRONTAB schedule (functions/bindings/retrain: %SHOPSENSE_RETRAIN_SCHEDULE%):
  // nightly at 02:00 UTC.
  SHOPSENSE_RETRAIN_SCHEDULE: retrainSchedule
  // Telemetry with Entra auth as the identity (Monitoring Metrics Publisher on the component).
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
}

module site 'br/public:avm/res/web/site:0.24.0' = {
  name: 'function-app-site'
  params: {
    name: name
    location: location
    tags: union(tags, {
      'azd-service-name': serviceName
    })
    kind: 'functionapp,linux'
    serverFarmResourceId: planResourceId
    managedIdentities: {
      systemAssigned: false
      userAssignedResourceIds: [
        identityResourceId
      ]
    }
    // Every instance is interchangeable; no affinity cookie.
    clientAffinityEnabled: false
    httpsOnly: true
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${blobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityResourceId
          }
        }
      }
      // The custom handler stack: the host starts `shopsense serve` as host.json says.
      runtime: {
        name: 'custom'
        version: '1.0'
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
    }
    siteConfig: {
      // Flex Consumption scales to zero; always-on does not apply to it.
      alwaysOn: false
      minTlsVersion: '1.2'
      // Answered by the platform before the Functions host; `shopsense serve` adds no CORS
      // headers of its own, so none are doubled.
      cors: {
        allowedOrigins: corsAllowedOrigins
        supportCredentials: false
      }
    }
    configs: [
      {
        name: 'appsettings'
        properties: appSettings
        // The template is the whole truth: settings added by hand are dropped on the next
        // deployment instead of lingering unreviewed (and the module does not read them back).
        retainCurrentAppSettings: false
      }
    ]
    // Deployments upload with an Entra token (azd, the workflow): no publishing passwords.
    basicPublishingCredentialsPolicies: [
      {
        name: 'scm'
        allow: false
      }
      {
        name: 'ftp'
        allow: false
      }
    ]
    enableTelemetry: enableAvmTelemetry
  }
}

@description('Name of the function app.')
output name string = site.outputs.name

@description('Resource ID of the function app.')
output resourceId string = site.outputs.resourceId

@description('Base URL of the app (its default host name may carry a region-specific suffix).')
output url string = 'https://${site.outputs.defaultHostname}'
