// One Event Grid subscription delivering BlobCreated events of a container to a blob-triggered
// function (`blobTrigger` with `source: EventGrid`, the only blob trigger Flex Consumption runs).
//
// The events go to the host's blobs extension webhook,
//   https://<host>/runtime/webhooks/blobs?functionName=Host.Functions.<function>&code=<blobs_extension key>
// which the host authenticates with its `blobs_extension` system key only. That is why this is
// a plain resource and not the AVM event-subscription module: a module's parameters are stored
// in deployment history unless they are @secure, and the URL carries the key.

@description('Name of the Event Grid system topic on the storage account.')
param systemTopicName string

@minLength(1)
@description('The blob-triggered function: its folder name in the package, and the subscription\'s name.')
param functionName string

@minLength(3)
@description('Container whose created blobs trigger the function (the container of the path in its function.json).')
param containerName string

@minLength(1)
@description('The function app\'s default host name as Azure reports it (it can carry a region-specific suffix, so it is not derived from the app name).')
param hostName string

@secure()
@minLength(1)
@description('The host\'s `blobs_extension` system key, from `az functionapp keys list` after the code is deployed.')
param blobsExtensionKey string

@description('Where an event goes after a day of failed deliveries, and the identity that writes it (event-subscriptions.bicep builds it).')
param deadLetterWithResourceIdentity object

resource topic 'Microsoft.EventGrid/systemTopics@2025-02-15' existing = {
  name: systemTopicName
}

resource blobCreated 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2025-02-15' = {
  parent: topic
  name: functionName
  properties: {
    destination: {
      endpointType: 'WebHook'
      properties: {
        endpointUrl: 'https://${hostName}/runtime/webhooks/blobs?functionName=Host.Functions.${functionName}&code=${uriComponent(blobsExtensionKey)}'
        // One blob per invocation, as the blob trigger processes them.
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    filter: {
      includedEventTypes: [
        'Microsoft.Storage.BlobCreated'
      ]
      subjectBeginsWith: '/blobServices/default/containers/${containerName}/'
    }
    eventDeliverySchema: 'EventGridSchema'
    // Retry for a day: an instance that is scaling out or restarting catches up. Then the event
    // is dead-lettered; the blob itself stays in its container and the nightly sweep ingests it.
    retryPolicy: {
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
    deadLetterWithResourceIdentity: deadLetterWithResourceIdentity
  }
}

@description('Name of the subscription.')
output name string = blobCreated.name
