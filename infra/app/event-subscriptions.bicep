// Event Grid subscriptions from the storage account's system topic to the deployed functions.
//
// A separate deployment, run after every code deploy by scripts/subscribe-events.sh (the azd
// `postdeploy` hook and the deploy workflow): Event Grid validates a subscription's endpoint when
// the subscription is created or updated, so the function must already be running. Each
// subscription is a module deployed only when its function is in `functionNames`, the function
// folders of the package just deployed (dist/app): a subscription never points at a function
// the package lacks (Event Grid would fail its validation).
//
// infra/tests checks that every event-triggered function in the code has its subscription here.
targetScope = 'resourceGroup'

@description('Name of the Event Grid system topic on the storage account (main.bicep output AZURE_EVENTGRID_SYSTEM_TOPIC_NAME).')
param systemTopicName string

@description('Name of the function app (main.bicep output AZURE_FUNCTION_APP_NAME).')
param functionAppName string

@description('Functions in the deployed package: the folders of dist/app that hold a function.json.')
param functionNames array

@secure()
@description('The function host\'s `blobs_extension` system key, the only credential the blobs extension webhook accepts. scripts/subscribe-events.sh reads it with `az functionapp keys list` and passes it here; @secure keeps it out of deployment history. Needed only when a blob-triggered function is deployed.')
param blobsExtensionKey string = ''

@description('Container of the uploads that the ingest function lands in bronze.')
param uploadsContainerName string = 'uploads'

@description('Name of the storage account (main.bicep output AZURE_STORAGE_ACCOUNT_NAME): its dead-letter container keeps the events a subscription gave up delivering.')
param storageAccountName string

@description('Container of the dead letters (main.bicep output AZURE_DEAD_LETTER_CONTAINER); the nightly retrain replays them.')
param deadLetterContainerName string = 'deadletters'

resource functionApp 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

// After a day of failed deliveries an event is written here instead of dropped, by the system
// topic's own identity (main.bicep grants it this one container).
var deadLetter = {
  identity: {
    type: 'SystemAssigned'
  }
  deadLetterDestination: {
    endpointType: 'StorageBlob'
    properties: {
      resourceId: resourceId('Microsoft.Storage/storageAccounts', storageAccountName)
      blobContainerName: deadLetterContainerName
    }
  }
}

// Every blob created under uploads/ -> ingest (blobTrigger with source EventGrid).
module ingestUploads 'blob-trigger-subscription.bicep' = if (contains(functionNames, 'ingest')) {
  name: 'event-subscription-ingest'
  params: {
    systemTopicName: systemTopicName
    functionName: 'ingest'
    containerName: uploadsContainerName
    hostName: functionApp.properties.defaultHostName
    blobsExtensionKey: blobsExtensionKey
    deadLetterWithResourceIdentity: deadLetter
  }
}

// Inventory snapshots (uploads/inventory/...) -> inventory-alert (eventGridTrigger). The
// AzureFunction destination authenticates through Azure Resource Manager: no key involved.
module inventoryAlert 'br/public:avm/res/event-grid/system-topic/event-subscription:0.1.0' = if (contains(functionNames, 'inventory-alert')) {
  name: 'event-subscription-inventory-alert'
  params: {
    name: 'inventory-alert'
    systemTopicName: systemTopicName
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        resourceId: '${functionApp.id}/functions/inventory-alert'
        // One snapshot per invocation: an alert run reads the whole file.
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    filter: {
      includedEventTypes: [
        'Microsoft.Storage.BlobCreated'
      ]
      subjectBeginsWith: '/blobServices/default/containers/${uploadsContainerName}/blobs/inventory/'
    }
    eventDeliverySchema: 'EventGridSchema'
    // Retry for a day: an instance that is scaling out or restarting catches up. Then the event
    // is dead-lettered, and the nightly retrain judges it again.
    retryPolicy: {
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
    deadLetterWithResourceIdentity: deadLetter
    enableTelemetry: false
  }
}

@description('The subscriptions this deployment created or updated, by function name.')
output subscribedFunctions array = filter(
  [
    'ingest'
    'inventory-alert'
  ],
  name => contains(functionNames, name)
)
